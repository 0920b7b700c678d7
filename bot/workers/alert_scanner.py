"""The alert scanner: every failed snapshot of a bound workspace, once in each listening channel.

Cost follows the work, not the audience (docs/reference/guarantees.md#speed-and-scale):
failures are scanned per (workspace, backup) cursor, shared by every channel bound to the
workspace, with at most one `GET .../snapshots?failed=true&startDate=...` per cursor per
interval; the result is fanned out to the listening channels (alerts on, not paused, backup
not muted, not watching that snapshot) through the delivery ledger.

The cursor, and why there is a lookback
---------------------------------------
Skyvia lists only finished snapshots, and `startDate` filters on the *start* time. A snapshot
that started before a scan but finishes after it is not in that scan's answer, and a cursor
that simply became "now" would filter it out of every later one: it would be lost. So:

- the cursor is an *end*-time mark: failures that ended before it were handled;
- each scan asks for failures that *started* after `cursor - lookback`, where the lookback is
  the watch give-up limit (capped at a day): a run longer than that is one the bot would have
  given up on anyway;
- of those, the ones that ended at or after the cursor are candidates; a channel gets one only
  if it ended at or after the channel's `alerts_since` (no history flood after `connect` or
  `alerts on`), and the ledger (one `sent_keys` query per scan, then `claim`) drops repeats;
- the cursor then moves to the scan's start minus `CLOCK_MARGIN`, which covers a difference
  between our clock and Skyvia's and a listing that lags the end of a run; the overlap costs a
  re-read that the ledger answers. It never moves past a failure whose delivery is not done
  (busy, deferred, failed): that one is seen again next scan.

Workspaces and backups: each tick compares the workspaces of alert-enabled bindings with those
that have cursors, lists the backups of a new one at once (`ensure` with `since = now`, so the
first scan finds no history), and re-lists every workspace every `RELIST_EVERY` intervals so
new backups get cursors and deleted ones lose theirs. Cursors of workspaces nobody listens to
any more are deleted.

Skyvia errors: 429/5xx back off per cursor (`error_count`) and per workspace; a rejected token
tells the channel whose token it was and pauses its binding (`bot.workers.revocation`); the next
scan uses another listening channel's token, if any.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NoDefaultToken
from bot.skyvia.client import MAX_TAKE
from bot.skyvia.errors import (
    SkyviaAuthError,
    SkyviaError,
    SkyviaNotFound,
    SkyviaRateLimited,
)
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.messages import failure_alert
from bot.slack.notifier import DeliveryKey, DeliveryResult, Outcome
from bot.workers.backoff import retry_delay
from bot.workers.base import PollingWorker
from bot.workers.revocation import report_rejected_token
from bot.workers.watcher import lease_for
from storage.models import AlertCursor, Binding, DeliveryKind
from storage.repositories import (
    AlertCursorRepository,
    BindingRepository,
    DeliveryLedger,
    WatchRepository,
)

log = logging.getLogger(__name__)

CLOCK_MARGIN = timedelta(minutes=5)
MAX_LOOKBACK = timedelta(days=1)
RELIST_EVERY = 10
"""Re-list each workspace's backups every this many alert intervals."""


def ended_at(snapshot: Snapshot) -> datetime | None:
    return snapshot.end_time or snapshot.start_time or snapshot.queue_time


@dataclass(frozen=True)
class ScannerConfig:
    interval: float
    lookback: timedelta
    lease_seconds: float
    batch: int = 500
    concurrency: int = 32
    max_backoff: float = 600.0

    @classmethod
    def for_interval(cls, interval: float, give_up: float) -> ScannerConfig:
        return cls(
            interval=interval,
            lookback=min(MAX_LOOKBACK, timedelta(seconds=give_up)),
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


class LogCache:
    """Details (with the log) of recent failures, by (workspace, backup, snapshot); bounded.

    A finished snapshot's details do not change, so a kept copy is as good as a new call. The
    oldest entries go first once `size` are kept: by then their alerts are long delivered.
    """

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, int, int], Snapshot] = OrderedDict()

    def get(self, key: tuple[int, int, int]) -> Snapshot | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[int, int, int], snapshot: Snapshot) -> None:
        self._entries[key] = snapshot
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class _Listeners:
    """The alert-enabled bindings of one workspace and their muted backups."""

    bindings: list[Binding]
    muted: dict[int, set[int]]

    def hear(self, binding: Binding, backup_id: int, ended: datetime | None) -> bool:
        if backup_id in self.muted.get(binding.id, set()):
            return False
        return ended is None or ended >= binding.alerts_since


class AlertScanner(PollingWorker[ScannerConfig]):
    name = "alert-scanner"

    def _setup(self) -> None:
        self._last_relist: datetime | None = None
        self._listed_at: dict[int, datetime] = {}
        self._logs = LogCache()
        # A channel's alerts may queue this far ahead (the wait holds no slot, see `_scan_one`);
        # half the lease leaves the other half for the posts themselves.
        self._pace_wait = self.config.lease_seconds / 2

    async def tick(self) -> bool:
        """Discovers backups, then scans one batch of due cursors; True if the batch was full."""
        now = self._clock()
        async with self._db.session() as session:
            alerting = list(await BindingRepository(session).list_alerting())
            known = await AlertCursorRepository(session).workspaces()
        by_workspace: dict[int, list[Binding]] = defaultdict(list)
        for binding in alerting:
            by_workspace[binding.workspace_id].append(binding)
        await self.discover(by_workspace, known, now)
        return await self.scan(now)

    # Which backups to scan

    async def discover(
        self, by_workspace: dict[int, list[Binding]], known: set[int], now: datetime
    ) -> None:
        """Creates cursors for new workspaces now, and re-lists all of them now and then."""
        relist = self._last_relist is None or now - self._last_relist >= self.config.relist_period
        if relist:
            self._last_relist = now
            async with self._db.session() as session:
                dropped = await AlertCursorRepository(session).delete_uncovered()
            if dropped:
                log.info("dropped %d alert cursors nobody listens to", dropped)
        period = self.config.relist_period
        targets = [
            ws
            for ws in by_workspace
            if relist
            or (
                ws not in known
                and (ws not in self._listed_at or now - self._listed_at[ws] >= period)
            )
        ]
        for workspace_id in targets:
            try:
                await self._list_backups(workspace_id, by_workspace[workspace_id], now)
            except Exception:
                log.exception("listing the backups of workspace %s failed", workspace_id)

    async def _list_backups(
        self, workspace_id: int, listeners: list[Binding], now: datetime
    ) -> None:
        if self._backoff.remaining(workspace_id) > 0:
            return
        self._listed_at[workspace_id] = now
        async with self._db.session() as session:
            mine = await AlertCursorRepository(session).start_listing(
                workspace_id, now=now, listed_before=now - self.config.relist_period * 0.9
            )
        if not mine:
            return  # another replica listed it recently
        for binding in listeners:
            try:
                token = self._bindings.token_of(binding)
                backups = [b async for b in self._skyvia.iter_backups(token, workspace_id)]
            except NoDefaultToken:
                continue
            except SkyviaAuthError:
                await report_rejected_token(self._notifier, self._batcher, binding, now)
                continue
            except SkyviaError as exc:
                retry_after = exc.retry_after if isinstance(exc, SkyviaRateLimited) else None
                self._backoff.failed(workspace_id, retry_after)
                log.warning("listing backups of workspace %s: %s", workspace_id, exc)
                return
            async with self._db.session() as session:
                cursors = AlertCursorRepository(session)
                for backup in backups:
                    await cursors.ensure(workspace_id, backup.id, backup.display_name, now)
                removed = await cursors.retain_backups(workspace_id, [b.id for b in backups])
                # Stamp the new cursors too, so the next relist waits a full period.
                await cursors.start_listing(workspace_id, now=now, listed_before=now)
            log.info(
                "workspace %s: %d backups scanned for failures (%d cursors removed)",
                workspace_id,
                len(backups),
                removed,
            )
            return

    # Scanning

    async def scan(self, now: datetime) -> bool:
        async with self._db.session() as session:
            cursors = await AlertCursorRepository(session).claim_due(
                self.owner, now, self.config.batch, self.config.lease_seconds
            )
            if not cursors:
                return False
            workspaces = {c.workspace_id for c in cursors}
            bindings_repo = BindingRepository(session)
            alerting = [
                b for b in await bindings_repo.list_alerting() if b.workspace_id in workspaces
            ]
            muted = await bindings_repo.mutes_of([b.id for b in alerting])
        if self._metrics is not None:
            lag = (now - cursors[0].next_scan_at).total_seconds()
            self._metrics.poll_lag.labels(self.name).set(max(0.0, lag))
        listeners: dict[int, _Listeners] = {ws: _Listeners([], muted) for ws in workspaces}
        for binding in alerting:
            listeners[binding.workspace_id].bindings.append(binding)
        limit = asyncio.Semaphore(self.config.concurrency)

        async def guarded(cursor: AlertCursor) -> None:
            try:
                await self._scan_one(cursor, listeners[cursor.workspace_id], limit)
            except Exception:
                log.exception(
                    "scan of workspace %s backup %s failed",
                    cursor.workspace_id,
                    cursor.backup_id,
                )
                await self._record_error(cursor, None)

        await asyncio.gather(*(guarded(cursor) for cursor in cursors))
        return len(cursors) >= self.config.batch

    async def _scan_one(
        self, cursor: AlertCursor, listeners: _Listeners, limit: asyncio.Semaphore
    ) -> None:
        """Lists the cursor's failures (`limit` bounds concurrent scans) and announces them.

        The alerts are awaited outside `limit`: waiting for a channel's pace is not Skyvia
        work, and holding a slot through it stalled the scan of every other backup.
        """
        now = self._clock()
        next_scan = now + timedelta(seconds=self.interval)
        if not listeners.bindings:
            await self._advance(cursor, cursor.cursor, next_scan)  # delete_uncovered will drop it
            return
        wait = self._backoff.remaining(cursor.workspace_id)
        if wait > 0:
            await self._record_error(cursor, now + timedelta(seconds=wait))
            return
        page = None
        token = ""
        for binding in listeners.bindings:
            try:
                token = self._bindings.token_of(binding)
            except NoDefaultToken:
                continue
            try:
                async with limit:
                    page = await self._skyvia.list_snapshots(
                        token,
                        cursor.workspace_id,
                        cursor.backup_id,
                        failed=True,
                        start_date=cursor.cursor - self.config.lookback,
                        sort_by="startTime",
                        sort_order="desc",
                        take=MAX_TAKE,
                    )
            except SkyviaAuthError:
                await report_rejected_token(self._notifier, self._batcher, binding, now)
                await self._record_error(cursor, next_scan)
                return
            except SkyviaNotFound:
                log.info(
                    "backup %s of workspace %s is gone; dropping its cursor",
                    cursor.backup_id,
                    cursor.workspace_id,
                )
                await self._batcher.run(
                    lambda session: AlertCursorRepository(session).delete_claimed(
                        cursor.workspace_id, cursor.backup_id, self.owner
                    )
                )
                return
            except SkyviaError as exc:
                retry_after = exc.retry_after if isinstance(exc, SkyviaRateLimited) else None
                delay = self._backoff.failed(cursor.workspace_id, retry_after)
                log.warning(
                    "failure scan of workspace %s backup %s: %s; retry in %.1fs",
                    cursor.workspace_id,
                    cursor.backup_id,
                    type(exc).__name__,
                    delay,
                )
                await self._record_error(cursor, now + timedelta(seconds=delay))
                return
            break
        if page is None:
            await self._record_error(cursor, next_scan)
            return
        self._backoff.succeeded(cursor.workspace_id)
        if page.has_more:
            log.warning(
                "backup %s has more than %d failures in the lookback; the oldest are not re-read",
                cursor.backup_id,
                MAX_TAKE,
            )
        failures = [
            s
            for s in page.data
            if s.state == SnapshotState.FAILED
            and ((end := ended_at(s)) is None or end >= cursor.cursor)
        ]
        undelivered = await self._announce(cursor, failures, listeners, token)
        await self._advance(cursor, next_cursor(now, undelivered), next_scan)

    async def _announce(
        self, cursor: AlertCursor, failures: list[Snapshot], listeners: _Listeners, token: str
    ) -> list[datetime]:
        """Delivers the alerts; returns end times of failures not yet delivered everywhere."""
        if not failures:
            return []
        ids = [s.snapshot_id for s in failures]

        async def known(session: AsyncSession) -> set[tuple[str, str, int]]:
            watched = await WatchRepository(session).watched_snapshots(ids)
            sent = await DeliveryLedger(session).sent_keys(ids, DeliveryKind.ALERT)
            return watched | sent

        skip = await self._batcher.run(known)
        due: list[tuple[Snapshot, list[Binding]]] = []
        for snapshot in failures:
            end = ended_at(snapshot)
            channels = [
                binding
                for binding in listeners.bindings
                if (binding.team_id, binding.channel_id, snapshot.snapshot_id) not in skip
                and listeners.hear(binding, cursor.backup_id, end)
            ]
            if channels:
                due.append((snapshot, channels))
        jobs: list[tuple[Snapshot, asyncio.Future[DeliveryResult]]] = []
        for listed, channels in due:
            snapshot = await self._with_log(cursor, listed, token)
            message = failure_alert(
                cursor.backup_id,
                cursor.backup_name,
                snapshot,
                by_schedule=bool(snapshot.run_by_schedule),
            )
            for binding in channels:
                key = DeliveryKey(
                    binding.team_id, binding.channel_id, snapshot.snapshot_id, DeliveryKind.ALERT
                )
                delivery = self._notifier.deliver(key, message, max_pace_wait=self._pace_wait)
                jobs.append((snapshot, asyncio.ensure_future(delivery)))
        undelivered: list[datetime] = []
        for snapshot, job in jobs:
            try:
                result = await job
            except Exception:
                log.exception("alert for snapshot %s failed", snapshot.snapshot_id)
                result = DeliveryResult(Outcome.FAILED)
            if not (result.delivered or result.outcome == Outcome.PAUSED):
                end = ended_at(snapshot)
                if end is not None:
                    undelivered.append(end)
        return undelivered

    async def _with_log(self, cursor: AlertCursor, snapshot: Snapshot, token: str) -> Snapshot:
        """The snapshot with its log: the list omits it, so one details call per new failure.

        Only failures some channel still has to hear about get here, so the call follows the
        work, not the channel count. A failure whose alerts a channel's pace held back is seen
        again next scan; the details are kept (`LogCache`) so it is not fetched again. Without
        an answer the alert goes out without the log rather than not at all.
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
        self._logs.put(key, detailed)
        return detailed

    async def _advance(self, cursor: AlertCursor, to: datetime, next_scan: datetime) -> None:
        await self._batcher.run(
            lambda session: AlertCursorRepository(session).advance(
                cursor.workspace_id,
                cursor.backup_id,
                owner=self.owner,
                cursor=to,
                next_scan_at=next_scan,
            )
        )

    async def _record_error(self, cursor: AlertCursor, next_scan: datetime | None) -> None:
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
