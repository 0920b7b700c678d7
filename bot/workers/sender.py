"""The sender: drains the outbox every few hundred milliseconds (`bot.slack.delivery.senders`)."""

from __future__ import annotations

from bot.metrics import Metrics
from bot.slack.delivery.senders import OutboxSender
from bot.workers.base import PeriodicWorker

SEND_INTERVAL = 0.2
"""Seconds between rounds when a round left nothing to send at once: Slack's finest pace
(one post a second per channel) is five rounds, so no slot is lost waiting."""


class Sender(PeriodicWorker):
    name = "sender"

    def __init__(self, outbox: OutboxSender, *, metrics: Metrics | None = None) -> None:
        super().__init__(metrics=metrics)
        self.outbox = outbox

    @property
    def interval(self) -> float:
        return SEND_INTERVAL

    async def _round(self) -> bool:
        return await self.outbox.drain()

    async def close(self) -> None:
        await self.outbox.close()
