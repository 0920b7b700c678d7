"""Timers: every alert interval, ends the due timed mutes and maintenance windows.

The schedule and the lease only; what ending one means is `bot.services.timers`'s business.
"""

from __future__ import annotations

from bot.metrics import Metrics
from bot.services.timers import TimerService
from bot.workers.base import PeriodicWorker


class TimerWorker(PeriodicWorker):
    name = "timers"

    def __init__(self, timers: TimerService, *, metrics: Metrics | None = None) -> None:
        super().__init__(metrics=metrics)
        self.timers = timers

    @property
    def interval(self) -> float:
        return self.timers.interval

    async def _round(self) -> bool:
        """Fires one batch of due timers; True when the batch was full (go again at once)."""
        return (await self.timers.fire_due()).full
