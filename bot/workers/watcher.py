"""The watcher: every interval, leases the due watches and has `WatchingService` poll them."""

from __future__ import annotations

from bot.metrics import Metrics
from bot.services.watching import WatchingService
from bot.workers.base import PeriodicWorker


class Watcher(PeriodicWorker):
    name = "watcher"

    def __init__(self, watching: WatchingService, *, metrics: Metrics | None = None) -> None:
        super().__init__(metrics=metrics)
        self.watching = watching

    @property
    def interval(self) -> float:
        return self.watching.interval

    async def _round(self) -> bool:
        """Polls one batch of due watches; True if the batch was full (more may be due)."""
        leased = await self.watching.lease_due()
        if leased.watches:
            await self.watching.poll(leased)
        return leased.full

    async def close(self) -> None:
        await self.watching.close()
