"""Retention: rows past their age are deleted in bounded batches, so no table grows forever.

What goes (ages from `bot.config`, documented in docs/reference/configuration.md#retention;
an age of 0 keeps that kind forever):

- processed clicks, Slack event ids and Workflow Builder step executions, by when they were
  recorded: they matter for seconds (an execution, for as long as Slack may redeliver it);
- failure episodes that are over, by when they ended, with the ledger rows (the App Home shows
  an alert's episode only while the alert's row is kept);
- ledger rows, by when they were last claimed, but never one whose key may be claimed again,
  since a forgotten key would be sent twice: not a pending watch's (`DeliveryLedger.prune`), and
  no alert row the alert scanner could still re-read. The settings' floor covers the usual case
  (`bot.config.retention_floors`); `_alerts_bound` also covers a scan cursor held back for long
  (failures it could not deliver, or a backup whose listing keeps failing);
- finished watches, by when they finished (pending ones never);
- audit entries, by when they were made.

Each batch is its own short transaction, so pruning a backlog never holds the locks that
requests and workers wait for. One replica at a time prunes (`take_turn`, on the job's leased
row); every batch first extends that lease and stops if it was lost. A run deletes at most
`max_batches` batches of each kind and reports whether it stopped early (`PruneReport.more`),
so the next run starts at once instead of an interval later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.config import Settings
from storage.db import Database
from storage.repositories import (
    AlertCursorRepository,
    AuditRepository,
    ClickRepository,
    DeliveryLedger,
    EpisodeRepository,
    StepExecutionRepository,
    WatchRepository,
    WorkerLeaseRepository,
)

log = logging.getLogger(__name__)

JOB = "retention"
"""The name of the job's leased row."""
LEASE_SECONDS = 300.0
"""How long a turn lasts without a batch; each batch extends it by as much."""
CLOCK_SLACK = timedelta(hours=1)
"""Between the database's, Skyvia's and each replica's clocks, when judging what is re-read."""

Prune = Callable[[AsyncSession, int], Awaitable[int]]
"""Deletes one batch of at most n rows of a kind in the session; returns how many."""


def _seconds(value: float) -> timedelta | None:
    return timedelta(seconds=value) if value > 0 else None


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of row is kept (None: forever) and how runs are paced."""

    clicks: timedelta | None
    deliveries: timedelta | None
    finished_watches: timedelta | None
    audit: timedelta | None
    alert_lookback: timedelta
    """How far before its cursor the alert scanner reads failures."""
    interval: float = 3600.0
    """Seconds between runs, across all replicas."""
    batch: int = 1000
    max_batches: int = 100

    @classmethod
    def from_settings(cls, settings: Settings, *, alert_lookback: timedelta) -> RetentionPolicy:
        return cls(
            clicks=_seconds(settings.click_retention),
            deliveries=_seconds(settings.delivery_retention),
            finished_watches=_seconds(settings.watch_retention),
            audit=_seconds(settings.audit_retention),
            alert_lookback=alert_lookback,
            interval=settings.retention_interval,
        )


@dataclass
class PruneReport:
    """Rows deleted by kind; `more` when a kind hit the batch cap or the lease was lost."""

    deleted: dict[str, int] = field(default_factory=dict)
    more: bool = False


class RetentionService:
    def __init__(
        self, *, db: Database, policy: RetentionPolicy, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self.policy = policy
        self._clock = clock

    async def take_turn(self, owner: str) -> bool:
        """True if this replica runs the job now: it is due and no other replica holds it."""
        async with self._db.session() as session:
            return await WorkerLeaseRepository(session).take_turn(
                JOB, owner, self._clock(), LEASE_SECONDS
            )

    async def end_turn(self, owner: str, *, again_now: bool = False) -> None:
        """Frees the job, due again after the interval (or at once, for a run cut short)."""
        now = self._clock()
        next_run = now if again_now else now + timedelta(seconds=self.policy.interval)
        async with self._db.session() as session:
            await WorkerLeaseRepository(session).end_turn(JOB, owner, next_run)

    async def prune(self, owner: str) -> PruneReport:
        """Deletes what is past its age, kind by kind, while `owner` holds the job's lease."""
        report = PruneReport()
        for kind, prune in await self._prunes():
            report.deleted[kind] = 0
            try:
                done = await self._prune_kind(prune, owner, report, kind)
            except _TurnLost:
                log.warning("retention stopped: another replica took its turn over")
                report.more = True
                break
            report.more = report.more or not done
        if any(report.deleted.values()):
            log.info("retention deleted %s", report.deleted, extra={"deleted": report.deleted})
        return report

    async def _prunes(self) -> list[tuple[str, Prune]]:
        """The kinds to prune now, each as a batch delete of rows older than its cutoff."""
        now = self._clock()
        policy = self.policy
        prunes: list[tuple[str, Prune]] = []
        if policy.clicks is not None:
            clicks = now - policy.clicks
            prunes.append(("clicks", lambda s, n: ClickRepository(s).prune(clicks, n)))
            prunes.append(
                ("step executions", lambda s, n: StepExecutionRepository(s).prune(clicks, n))
            )
        if policy.deliveries is not None:
            deliveries = now - policy.deliveries
            alerts = min(deliveries, await self._alerts_bound(now))
            prunes.append(
                (
                    "deliveries",
                    lambda s, n: DeliveryLedger(s).prune(
                        deliveries, alerts_claimed_before=alerts, limit=n
                    ),
                )
            )
            prunes.append(
                ("past episodes", lambda s, n: EpisodeRepository(s).prune_past(deliveries, n))
            )
        if policy.finished_watches is not None:
            watches = now - policy.finished_watches
            prunes.append(("watches", lambda s, n: WatchRepository(s).prune_finished(watches, n)))
        if policy.audit is not None:
            audit = now - policy.audit
            prunes.append(("audit", lambda s, n: AuditRepository(s).prune(audit, n)))
        return prunes

    async def _alerts_bound(self, now: datetime) -> datetime:
        """Alert rows claimed before this are of failures no scan reads again.

        A scan reads failures that started after its cursor minus the lookback, and a failure's
        alert is claimed after it started; so rows claimed before the oldest cursor minus the
        lookback (and the clock slack) are never asked for again. A cursor made later starts
        at its making, after `now`.
        """
        async with self._db.session() as session:
            oldest = await AlertCursorRepository(session).oldest_cursor()
        return min(now, oldest or now) - self.policy.alert_lookback - CLOCK_SLACK

    async def _prune_kind(self, prune: Prune, owner: str, report: PruneReport, kind: str) -> bool:
        """Batches of one kind until one is short (True) or `max_batches` of them (False).

        Each batch first extends the turn, in the same transaction: a replica that lost it
        deletes nothing more (`_TurnLost`).
        """
        for _ in range(self.policy.max_batches):
            async with self._db.session() as session:
                held = await WorkerLeaseRepository(session).extend(JOB, owner, LEASE_SECONDS)
                if not held:
                    raise _TurnLost
                deleted = await prune(session, self.policy.batch)
            report.deleted[kind] += deleted
            if deleted < self.policy.batch:
                return True
        return False


class _TurnLost(Exception):
    """The job's lease is no longer ours: another replica runs it now."""
