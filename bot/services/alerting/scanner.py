"""Alerting: every failed snapshot of a bound workspace, once in each listening channel.

Cost follows the work, not the audience (docs/reference/guarantees.md#speed-and-scale):
failures are scanned per (workspace, backup) cursor, shared by every channel bound to the
workspace, with one `GET .../snapshots?failed=true&startDate=...` per cursor per interval
(and a page more per 200 failures past the first 200); the result is fanned out to the
listening channels (alerts on, not paused, backup not muted, not watching that snapshot) through
the `Announcer`, which says each once (the ledger); `bot.services.alerting.backup_discovery` makes
cursors.

The cursor, and why there is a lookback
---------------------------------------
Skyvia lists only finished snapshots, and `startDate` filters on the *start* time. A snapshot
that started before a scan but finishes after it is not in that scan's answer, and a cursor
that simply became "now" would filter it out of every later one: it would be lost. So:

- the cursor is an *end*-time mark: failures that ended before it were handled;
- each scan asks for failures that *started* after `cursor - lookback`, where the lookback
  (`SKYVIA_BOT_ALERT_LOOKBACK`, a day by default) is the longest run whose failure is still
  found. It is its own setting, not the watch give-up limit: most failures are of scheduled
  runs nobody watches, and a short give-up limit must not hide the failure of a long run;
- of those, the ones that ended at or after the cursor are candidates; a channel gets one only
  if it ended at or after the channel's `alerts_since` (no history flood after `connect` or
  `alerts on`), and the ledger (one `owed_keys` query per scan, then an outbox write) drops repeats;
- the cursor then moves to the scan's start minus `CLOCK_MARGIN`, which covers a difference
  between our clock and Skyvia's and a listing that lags the end of a run; the overlap costs a
  re-read that the ledger answers. It never moves past a failure whose delivery is not done
  (busy, deferred, failed): that one is seen again next scan.

Skyvia errors: 429/5xx back off per cursor (`error_count`) and per workspace; a rejected token
tells the channel whose token it was and pauses its binding (`bot.services.alerting.token_checks`);
the next scan uses another listening channel's token, if any. A channel bound with its own token
hears a failure only while Skyvia accepts that token (`bot.services.alerting.own_tokens`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logging_setup import set_log_context
from bot.services.alerting.backup_discovery import BackupDiscovery
from bot.services.alerting.episodes import EpisodeTracker, Tracked
from bot.services.alerting.failure_listing import FailureLister, Listeners, ended_at
from bot.services.alerting.overdue import OverdueTracker
from bot.services.alerting.own_tokens import OwnTokenChecks
from bot.services.alerting.staleness import StaleTracker
from bot.services.announcements import Outcome
from bot.services.backoff import next_due, retry_delay
from bot.services.leasing import LeasedService, lease_for
from bot.services.subscriptions import PersonalNotices
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import Snapshot, SnapshotState
from storage.batching import BulkWrite
from storage.models import DeliveryKind
from storage.records import BindingRecord, CursorRecord
from storage.repositories import (
    AlertCursorRepository,
    BindingRepository,
    DeliveryLedger,
    EpisodeRepository,
    StalenessRepository,
    WatchRepository,
)
from storage.repositories.alert_cursors import CursorAdvance

log = logging.getLogger(__name__)

CLOCK_MARGIN = timedelta(minutes=5)
RELIST_EVERY = 10
"""Re-list each workspace's backups every this many alert intervals."""
RECENT_RUNS = 20
"""How many of a backup's latest runs a stale check reads (one page)."""
LAG_LABEL = "alert-scanner"
"""The `poll_lag` metric's label for alert cursors (the worker's name, which dashboards use)."""


@dataclass(frozen=True)
class AlertingConfig:
    interval: float
    lookback: timedelta
    lease_seconds: float
    batch: int = 500
    concurrency: int = 32
    max_backoff: float = 600.0
    log_cache_size: int = 2000
    """How many failures' details (with their log) are kept, the most recently used first."""

    @classmethod
    def for_interval(cls, interval: float, lookback: float) -> AlertingConfig:
        return cls(
            interval=interval,
            lookback=timedelta(seconds=lookback),
            lease_seconds=lease_for(interval),
        )

    @property
    def relist_period(self) -> timedelta:
        return timedelta(seconds=RELIST_EVERY * self.interval)


def next_cursor(
    scanned_at: datetime, undelivered_ends: Sequence[datetime], margin: timedelta = CLOCK_MARGIN
) -> datetime:
    """Where the cursor may move after a scan started at `scanned_at` (see module docstring)."""
    return min([scanned_at - margin, *undelivered_ends])


@dataclass(frozen=True)
class LeasedCursors:
    """A batch of due cursors this process now holds, with who listens to their workspaces."""

    cursors: Sequence[CursorRecord]
    listeners: dict[int, Listeners]
    full: bool
    """The batch was full: more may be due right now."""


class AlertingService(LeasedService[AlertingConfig]):
    def _setup(self) -> None:
        self._discovery = BackupDiscovery(
            db=self._db,
            skyvia=self._skyvia,
            tokens=self._tokens,
            backoff=self._backoff,
            relist_period=self.config.relist_period,
        )
        self._lister = FailureLister(
            skyvia=self._skyvia,
            tokens=self._tokens,
            backoff=self._backoff,
            lookback=self.config.lookback,
        )
        # Half an interval: the cursors of one round share a check, the next round checks again.
        self._own_tokens = OwnTokenChecks(
            skyvia=self._skyvia, tokens=self._tokens, every=self.config.interval / 2
        )
        self._personal = PersonalNotices(announcer=self._announcer, batcher=self._batcher)
        self._episodes = EpisodeTracker(
            announcer=self._announcer,
            batcher=self._batcher,
            clock=self._clock,
            personal=self._personal,
        )
        self._stale = StaleTracker(
            announcer=self._announcer,
            batcher=self._batcher,
            owner=lambda: self.owner,
            clock=self._clock,
        )
        self._overdue = OverdueTracker(
            skyvia=self._skyvia,
            announcer=self._announcer,
            batcher=self._batcher,
            owner=lambda: self.owner,
            interval=self.config.interval,
        )
        # A failure's details do not change once it ended, so a kept copy is as good as a call.
        self._logs: LRUCache[tuple[int, int, int], Snapshot] = LRUCache(
            maxsize=self.config.log_cache_size
        )

    async def discover(self) -> None:
        """Creates and drops cursors as workspaces and backups come and go."""
        await self._discovery.run(self._clock())

    async def lease_due(self) -> LeasedCursors:
        """Claims a batch of due cursors for this process, with their listening bindings."""
        now = self._clock()
        async with self._db.session() as session:
            cursors = await AlertCursorRepository(session).claim_due(
                self.owner, now, self.config.batch, self.config.lease_seconds
            )
        if not cursors:
            return LeasedCursors([], {}, full=False)
        # Who listens is only read: outside the claim's transaction, so it holds no writer up.
        async with self._db.reading() as session:
            workspaces = {c.workspace_id for c in cursors}
            bindings_repo = BindingRepository(session)
            alerting = [
                b for b in await bindings_repo.list_alerting() if b.workspace_id in workspaces
            ]
            ids = [b.id for b in alerting]
            muted = await bindings_repo.mutes_of(ids)
            unmuted = await bindings_repo.unmutes_of(ids)
            episodes = await EpisodeRepository(session).open_for(ids)
            stale = await StalenessRepository(session).for_bindings(ids)
        if self._metrics is not None:
            lag = (now - cursors[0].next_scan_at).total_seconds()
            self._metrics.poll_lag.labels(LAG_LABEL).set(max(0.0, lag))
        # Each workspace gets its own bindings' episodes: one shared dict had every workspace
        # index the episodes of all of them, each round (20× the work in the alert benchmark).
        listeners = {ws: Listeners([], muted, unmuted, {}, stale) for ws in workspaces}
        for binding in alerting:
            listeners[binding.workspace_id].bindings.append(binding)
        workspace_of = {b.id: b.workspace_id for b in alerting}
        for key, episode in episodes.items():
            listeners[workspace_of[key[0]]].episodes[key] = episode
        return LeasedCursors(cursors, listeners, full=len(cursors) >= self.config.batch)

    async def scan(self, leased: LeasedCursors) -> None:
        """Scans every cursor of the batch, at most `concurrency` Skyvia calls at once."""
        limit = asyncio.Semaphore(self.config.concurrency)

        async def guarded(cursor: CursorRecord) -> None:
            set_log_context(workspace=cursor.workspace_id, backup=cursor.backup_id)  # own task
            try:
                await self._scan_one(cursor, leased.listeners[cursor.workspace_id], limit)
            except Exception:
                log.exception(
                    "scan of workspace %s backup %s failed",
                    cursor.workspace_id,
                    cursor.backup_id,
                )
                await self._record_error(cursor, None)

        await asyncio.gather(*(guarded(cursor) for cursor in leased.cursors))

    async def _scan_one(
        self, cursor: CursorRecord, listeners: Listeners, limit: asyncio.Semaphore
    ) -> None:
        """Lists the cursor's failures (`limit` bounds concurrent scans) and announces them.

        The alerts are awaited outside `limit`: waiting for a channel's pace is not Skyvia
        work, and holding a slot through it stalled the scan of every other backup.
        """
        now = self._clock()
        next_scan = next_due(cursor.next_scan_at, now, self.interval)
        if not listeners.bindings:
            await self._advance(cursor, cursor.cursor, next_scan)  # delete_uncovered will drop it
            return
        wait = self._backoff.remaining(cursor.workspace_id)
        if wait > 0:
            await self._record_error(cursor, now + timedelta(seconds=wait))
            return
        tracked = Tracked(listeners.open_episodes(cursor.backup_id))  # a copy of its own
        # An episode waiting for its success: the same listing, unfiltered, shows it.
        with_successes = self._episodes.needs_runs(tracked)
        listed = await self._lister.list_failures(
            cursor, listeners.bindings, limit, now, all_states=with_successes
        )
        if listed.gone:
            await self._batcher.run(
                lambda session: AlertCursorRepository(session).delete_claimed(
                    cursor.workspace_id, cursor.backup_id, self.owner
                )
            )
            return
        if listed.snapshots is None:
            retry = listed.retry_in
            await self._record_error(
                cursor, next_scan if retry is None else now + timedelta(seconds=retry)
            )
            return
        self._backoff.succeeded(cursor.workspace_id)
        failures = [
            s
            for s in listed.snapshots
            if s.state == SnapshotState.FAILED
            and ((end := ended_at(s)) is None or end >= cursor.cursor)
        ]
        # Subscribers' DMs first: a scan cut short after the alerts still owes them (once).
        await self._personal.failures(cursor, failures, lambda s: _hearing(cursor, s, listeners))
        undelivered = await self._announce(cursor, failures, listeners, listed.token, tracked)
        runs = listed.snapshots if with_successes else None
        await self._health(cursor, listeners, tracked, listed.token, runs, limit, now)
        await self._advance(cursor, next_cursor(now, undelivered), next_scan)

    async def _announce(
        self,
        cursor: CursorRecord,
        failures: list[Snapshot],
        listeners: Listeners,
        token: str,
        tracked: Tracked,
    ) -> list[datetime]:
        """Delivers the alerts (or episode replies), oldest failure first, since a failure's
        reply goes in the thread of the alert of the first; returns end times of failures not
        yet delivered everywhere."""
        if not failures:
            return []
        due = await self._due(cursor, failures, listeners)
        due.sort(key=lambda item: (ended_at(item[0]) or self._clock(), item[0].snapshot_id))
        undelivered: list[datetime] = []
        for listed, due_channels, watching in due:
            hearing = await self._own_tokens.hearing(
                [*due_channels, *watching], token, self._clock()
            )
            watchers = {b.id for b in watching}
            channels = [b for b in hearing if b.id not in watchers]
            if not hearing:
                continue
            # Only an alert or a thread reply shows the log; a watched failure needs none.
            snapshot = await self._with_log(cursor, listed, token) if channels else listed
            try:
                outcomes = await self._episodes.failed(
                    cursor,
                    snapshot,
                    channels,
                    tracked,
                    watching=[b for b in hearing if b.id in watchers],
                )
            except Exception:
                log.exception("alerts for snapshot %s failed", snapshot.snapshot_id)
                outcomes = [Outcome.FAILED]
            if not all(outcome.settled for outcome in outcomes):
                end = ended_at(snapshot)
                if end is not None:
                    undelivered.append(end)
        return undelivered

    async def _health(
        self,
        cursor: CursorRecord,
        listeners: Listeners,
        tracked: Tracked,
        token: str,
        runs: list[Snapshot] | None,
        limit: asyncio.Semaphore,
        now: datetime,
    ) -> None:
        """Recoveries (from the scan's own listing when it had every state: `runs`),
        staleness, which reads the backup's recent runs (one page) only when a check is due,
        and runs that take unusually long, which ask for the active run only when one is
        believed going (`bot.services.alerting.episodes`, `.staleness`, `.overdue`)."""
        try:
            await self._episodes.recoveries(cursor, listeners.bindings, tracked, runs)
            if self._stale.due(cursor, listeners, now):
                recent = await self._recent_runs(cursor, token, limit)
                if recent is not None:
                    await self._stale.check(cursor, listeners, recent, now)
            await self._overdue.check(cursor, listeners, token, limit, now)
        except Exception:
            log.exception("health checks of backup %s failed", cursor.backup_id)

    async def _recent_runs(
        self, cursor: CursorRecord, token: str, limit: asyncio.Semaphore
    ) -> list[Snapshot] | None:
        """The backup's latest finished runs, one page; None when Skyvia gave no answer."""
        try:
            async with limit:
                page = await self._skyvia.list_snapshots(
                    token,
                    cursor.workspace_id,
                    cursor.backup_id,
                    sort_by="startTime",
                    sort_order="desc",
                    take=RECENT_RUNS,
                )
        except SkyviaError as exc:
            log.warning("recent runs of backup %s: %s", cursor.backup_id, exc)
            return None
        return list(page.data)

    async def _due(
        self, cursor: CursorRecord, failures: list[Snapshot], listeners: Listeners
    ) -> list[tuple[Snapshot, list[BindingRecord], list[BindingRecord]]]:
        """Each failure with the channels still to hear it (not told yet), and the listening
        channels that watch it: they hear it in its card's thread, but it counts in their
        episode's streak all the same (`EpisodeTracker.failed`)."""
        ids = frozenset(s.snapshot_id for s in failures)
        watched, told = await self._batcher.run_bulk(_KNOWN, ids)
        due: list[tuple[Snapshot, list[BindingRecord], list[BindingRecord]]] = []
        for snapshot in failures:
            end = ended_at(snapshot)
            hearing = [
                binding
                for binding in listeners.bindings
                if (binding.team_id, binding.channel_id, snapshot.snapshot_id) not in told
                and listeners.hear(binding, cursor.backup_id, end)
            ]
            watching = [
                b for b in hearing if (b.team_id, b.channel_id, snapshot.snapshot_id) in watched
            ]
            if hearing:
                told_here = [b for b in hearing if b not in watching]
                due.append((snapshot, told_here, watching))
        return due

    async def _with_log(self, cursor: CursorRecord, snapshot: Snapshot, token: str) -> Snapshot:
        """The snapshot with its log: the list omits it, so one details call per new failure.

        Only failures some channel still has to hear about get here, so the call follows the
        work, not the channel count. A failure whose alerts a channel's pace held back is seen
        again next scan; the details are kept (a bounded LRU cache) so it is not fetched again.
        Without an answer the alert goes out without the log rather than not at all.
        """
        if snapshot.log:
            return snapshot
        key = (cursor.workspace_id, cursor.backup_id, snapshot.snapshot_id)
        cached = self._logs.get(key)
        if cached is not None:
            return cached
        try:
            detailed = await self._skyvia.get_snapshot(token, *key)
        except SkyviaError as exc:
            log.warning("log of failed snapshot %s unavailable: %s", snapshot.snapshot_id, exc)
            return snapshot
        self._logs[key] = detailed
        return detailed

    async def _advance(self, cursor: CursorRecord, to: datetime, next_scan: datetime) -> None:
        scan = CursorAdvance(cursor.workspace_id, cursor.backup_id, self.owner, to, next_scan)
        await self._batcher.run_bulk(_ADVANCES, scan)

    async def _record_error(self, cursor: CursorRecord, next_scan: datetime | None) -> None:
        if next_scan is None:
            delay = retry_delay(
                cursor.error_count + 1, base=self.interval, cap=self.config.max_backoff
            )
            next_scan = self._clock() + timedelta(seconds=delay)
        await self._batcher.run(
            lambda session: AlertCursorRepository(session).record_error(
                cursor.workspace_id, cursor.backup_id, owner=self.owner, next_scan_at=next_scan
            )
        )


_Keys = set[tuple[str, str, int]]


async def _known(
    session: AsyncSession, items: Sequence[frozenset[int]]
) -> list[tuple[_Keys, _Keys]]:
    """For each set of failures: (team, channel, snapshot) of the channels that watch one, and
    of those told of one already, in three queries for every scan of a write batch (a scan
    round's cursors meet in few batches) rather than three per cursor."""
    ids = sorted(set().union(*items))
    watched = await WatchRepository(session).watched_snapshots(ids)
    ledger = DeliveryLedger(session)
    told = await ledger.owed_keys(ids, DeliveryKind.ALERT)
    # A further failure of an episode is done once its header edit (the last step) is.
    told |= await ledger.owed_keys(ids, DeliveryKind.EPISODE_HEADER)
    watched_of, told_of = _by_snapshot(watched), _by_snapshot(told)
    return [
        (
            set().union(*(watched_of.get(i, ()) for i in item)),
            set().union(*(told_of.get(i, ()) for i in item)),
        )
        for item in items
    ]


def _by_snapshot(keys: _Keys) -> dict[int, list[tuple[str, str, int]]]:
    found: dict[int, list[tuple[str, str, int]]] = {}
    for key in keys:
        found.setdefault(key[2], []).append(key)
    return found


async def _advance_many(session: AsyncSession, scans: Sequence[CursorAdvance]) -> list[None]:
    await AlertCursorRepository(session).advance_many(scans)
    return [None] * len(scans)


_KNOWN = BulkWrite[frozenset[int], tuple[_Keys, _Keys]]("watched and told failures", _known)
_ADVANCES = BulkWrite[CursorAdvance, None]("alert cursor advances", _advance_many)


def _hearing(cursor: CursorRecord, snapshot: Snapshot, listeners: Listeners) -> list[BindingRecord]:
    """The listening channels that hear this failure (muted, or connected after it: not)."""
    end = ended_at(snapshot)
    return [b for b in listeners.bindings if listeners.hear(b, cursor.backup_id, end)]
