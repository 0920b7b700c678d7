"""Draining the outbox in tests: what services owed reaches the fake Slack, then the test looks."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.slack.delivery.senders import OutboxSender
from storage.db import Database
from storage.models import Delivery, DeliveryStatus


class Ticks:
    """A monotonic clock the test moves (`now`), not by waiting: the bot's pace
    (`bot.slack.delivery.pacing.Pace`) and the Slack stand-in's tiers can share one."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def queued(db: Database) -> int:
    """Rows still owed and not yet claimed (pending)."""
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.not_before.is_(None))
        )
    return int(count or 0)


async def flush_outbox(sender: OutboxSender, db: Database, *, rounds: int = 50) -> None:
    """Rounds of the sender until nothing is queued or in flight (rows held back by a backoff
    or a 429 stay queued: a test moves time or waits for them itself)."""
    for _ in range(rounds):
        sender.force_next_round()
        await sender.drain()
        await sender.settle()
        if await queued(db) == 0:
            return
    raise AssertionError(f"the outbox still holds {await queued(db)} row(s) after {rounds} rounds")
