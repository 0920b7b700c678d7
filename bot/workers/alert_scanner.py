"""The alert scanner: every interval, keeps the cursors current, leases the due ones, scans them.

The work is `AlertingService`'s (see `bot.services.alerting.scanner` for the cursor and its
lookback).
"""

from __future__ import annotations

from bot.metrics import Metrics
from bot.services.alerting.scanner import AlertingService
from bot.workers.base import PeriodicWorker


class AlertScanner(PeriodicWorker):
    name = "alert-scanner"

    def __init__(self, alerting: AlertingService, *, metrics: Metrics | None = None) -> None:
        super().__init__(metrics=metrics)
        self.alerting = alerting

    @property
    def interval(self) -> float:
        return self.alerting.interval

    async def _round(self) -> bool:
        """Discovers backups, then scans one batch of due cursors; True if the batch was full."""
        await self.alerting.discover()
        leased = await self.alerting.lease_due()
        if leased.cursors:
            await self.alerting.scan(leased)
        return leased.full

    async def close(self) -> None:
        await self.alerting.close()
