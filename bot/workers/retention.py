"""Retention: every so often one replica, whichever takes the turn, prunes old rows.

The schedule and the lease only; what is deleted is `bot.services.retention`'s business.
"""

from __future__ import annotations

from bot.metrics import Metrics
from bot.services.retention import RetentionService
from bot.workers.base import PeriodicWorker

CHECK_EVERY = 60.0
"""Seconds between this replica's looks at whether a run is due (runs are further apart)."""


class RetentionWorker(PeriodicWorker):
    name = "retention"

    def __init__(
        self, retention: RetentionService, *, owner: str, metrics: Metrics | None = None
    ) -> None:
        super().__init__(metrics=metrics)
        self.retention = retention
        self.owner = owner

    @property
    def interval(self) -> float:
        return min(CHECK_EVERY, self.retention.policy.interval)

    async def _round(self) -> bool:
        """Runs the job if it is due and no replica holds it; True when a run was cut short."""
        if not await self.retention.take_turn(self.owner):
            return False
        more = False
        try:
            more = (await self.retention.prune(self.owner)).more
        finally:
            await self.retention.end_turn(self.owner, again_now=more)
        return more
