"""Stale backups: a backup whose schedule is on but whose last good snapshot is too old.

Each listening channel has a limit per backup: a fixed one (`alerts stale 456 26h`), none
(`off`), or `auto`, the default: 2.5 times the median gap between the backup's recent
scheduled runs, never under an hour, and nothing at all while no gap can be learned (a
backup with too few runs is not called stale on a guess).

What the check knows of the runs is cached on the backup's cursor (the usual gap, the last good
snapshot, when the runs were read), so the extra `GET .../snapshots` that reads them is made
only when a check is due: the cache is an hour old, the cached last good snapshot is past some
channel's limit, or a channel has an open stale episode (waiting for "fresh again"): at most
one extra call per backup per scan (a failure episode's recovery needs none, see
`bot.services.alerting.episodes`).

A stale episode per channel: one "⏰ No good snapshot …" alert (keyed by the last good snapshot,
recorded before it is posted), then one "fresh again" reply in its thread when a newer good
snapshot is seen (keyed by that one), both through the delivery ledger.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.alerting.failure_listing import Listeners, ended_at
from bot.services.announcements import Announcer, Channel, FreshAgain, Outcome, StaleNoticed
from bot.skyvia.models import Snapshot, SnapshotState
from storage.batching import WriteBatcher
from storage.models import DeliveryKind, DeliveryStatus
from storage.records import BindingRecord, CursorRecord
from storage.repositories import (
    AlertCursorRepository,
    DeliveryLedger,
    StalenessRepository,
    StaleSetting,
)

log = logging.getLogger(__name__)

AUTO_FACTOR = 2.5
AUTO_FLOOR = timedelta(hours=1)
REFRESH = timedelta(hours=1)
"""The learned cadence is read again at most this often per backup (when nothing else is due)."""
MIN_LIMIT = timedelta(minutes=10)
"""The shortest limit a person may set: a backup cannot be stale after a few seconds, and a
limit within a few alert scans of its runs would alert on every scan."""
MIN_GAPS = 2
"""Fewer gaps between scheduled runs than this teach no cadence."""


@dataclass(frozen=True)
class Learned:
    """What one read of recent runs tells: the usual gap and the last good snapshot."""

    cadence: float | None
    last_good: tuple[int, datetime] | None
    usual_run: float | None = None
    """The median duration of the successful runs, once `MIN_DURATIONS` are known (overdue)."""
    last_start: datetime | None = None
    """The latest scheduled run's start: with the cadence, when the next one is due."""


MIN_DURATIONS = 3
"""Fewer successful runs than this teach no usual duration (`auto` overdue stays silent)."""


def learn(runs: Sequence[Snapshot]) -> Learned:
    """The median gap between scheduled runs' starts, the latest success, the median duration
    of the successes and the latest scheduled start."""
    starts = sorted(s.start_time for s in runs if s.run_by_schedule and s.start_time is not None)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    gaps = [gap for gap in gaps if gap > 0]
    cadence = statistics.median(gaps) if len(gaps) >= MIN_GAPS else None
    good = [
        (end, s.snapshot_id)
        for s in runs
        if s.state == SnapshotState.SUCCEEDED and (end := ended_at(s)) is not None
    ]
    latest = max(good, default=None)
    durations = [
        d
        for s in runs
        if s.state == SnapshotState.SUCCEEDED and (d := s.duration_seconds) is not None
    ]
    usual = statistics.median(durations) if len(durations) >= MIN_DURATIONS else None
    return Learned(
        cadence, (latest[1], latest[0]) if latest else None, usual, starts[-1] if starts else None
    )


def limit_of(setting: StaleSetting, cadence: float | None) -> timedelta | None:
    """The channel's limit for the backup, or None when it has none (off, or not learned)."""
    if setting.disabled:
        return None
    if setting.limit_seconds is not None:
        return timedelta(seconds=setting.limit_seconds)
    if cadence is None:
        return None
    return max(AUTO_FLOOR, timedelta(seconds=AUTO_FACTOR * cadence))


class StaleTracker:
    def __init__(
        self,
        *,
        announcer: Announcer,
        batcher: WriteBatcher,
        owner: Callable[[], str],
        clock: Callable[[], datetime],
    ) -> None:
        self._announcer = announcer
        self._batcher = batcher
        self._owner = owner
        self._clock = clock

    def due(self, cursor: CursorRecord, listeners: Listeners, now: datetime) -> bool:
        """Whether this scan should read the backup's recent runs for the stale check."""
        settings = [listeners.stale_setting(b.id, cursor.backup_id) for b in listeners.bindings]
        if any(s.stale_snapshot_id is not None for s in settings):
            return True
        overdue_on = any(not s.overdue_disabled for s in settings)
        stale_on = cursor.scheduled is not False and not all(s.disabled for s in settings)
        if not (stale_on or overdue_on):
            return False
        if cursor.runs_checked_at is None or now - cursor.runs_checked_at >= REFRESH:
            return True
        if not stale_on:
            return False
        if cursor.last_good_at is None:
            return False
        limits = [limit_of(s, cursor.cadence_seconds) for s in settings]
        return any(lim is not None and now - cursor.last_good_at > lim for lim in limits)

    async def check(
        self, cursor: CursorRecord, listeners: Listeners, runs: Sequence[Snapshot], now: datetime
    ) -> None:
        """Learns from the runs, then opens, re-announces or closes each channel's episode."""
        learned = learn(runs)
        await self._batcher.run(
            lambda s: AlertCursorRepository(s).record_runs(
                cursor.workspace_id,
                cursor.backup_id,
                owner=self._owner(),
                checked_at=now,
                cadence_seconds=learned.cadence,
                last_good=learned.last_good,
                usual_run_seconds=learned.usual_run,
                last_start_at=learned.last_start,
            )
        )
        cadence = learned.cadence or cursor.cadence_seconds
        last_good = learned.last_good
        if last_good is None and cursor.last_good_at is not None:
            last_good = (cursor.last_good_snapshot_id or 0, cursor.last_good_at)
        for binding in listeners.bindings:
            setting = listeners.stale_setting(binding.id, cursor.backup_id)
            try:
                await self._one(cursor, binding, setting, cadence, last_good, now, listeners)
            except Exception:
                log.exception("stale check of backup %s failed", cursor.backup_id)

    async def _one(
        self,
        cursor: CursorRecord,
        binding: BindingRecord,
        setting: StaleSetting,
        cadence: float | None,
        last_good: tuple[int, datetime] | None,
        now: datetime,
        listeners: Listeners,
    ) -> None:
        channel = Channel(binding.team_id, binding.channel_id, binding.mention_ids)
        stale_id = setting.stale_snapshot_id
        if stale_id is not None:
            if last_good is not None and last_good[0] != stale_id:
                await self._fresh(cursor, binding, channel, stale_id, last_good[0])
            elif not setting.stale_announced:
                await self._alert(cursor, binding, channel, stale_id, last_good, cadence, now)
            return
        limit = limit_of(setting, cadence)
        if limit is None or last_good is None or cursor.scheduled is False:
            return
        if not listeners.hear(binding, cursor.backup_id, None) or now - last_good[1] <= limit:
            return
        await self._batcher.run(
            lambda s: StalenessRepository(s).open_episode(
                binding.id, cursor.backup_id, last_good[0]
            )
        )
        await self._alert(cursor, binding, channel, last_good[0], last_good, cadence, now)

    async def _alert(
        self,
        cursor: CursorRecord,
        binding: BindingRecord,
        channel: Channel,
        stale_id: int,
        last_good: tuple[int, datetime] | None,
        cadence: float | None,
        now: datetime,
    ) -> None:
        age = (now - last_good[1]).total_seconds() if last_good else None
        stale = StaleNoticed(cursor.backup_id, cursor.backup_name, stale_id, age, cadence)
        outcome = await self._announcer.owe(stale, channel)
        if outcome.settled:
            await self._batcher.run(
                lambda s: StalenessRepository(s).announced(binding.id, cursor.backup_id)
            )

    async def _fresh(
        self,
        cursor: CursorRecord,
        binding: BindingRecord,
        channel: Channel,
        stale_id: int,
        good_id: int,
    ) -> None:
        key = (binding.team_id, binding.channel_id, stale_id, DeliveryKind.STALE)

        async def alert_row(session: AsyncSession) -> tuple[str | None, str | None]:
            row = (await DeliveryLedger(session).get_many([key])).get(key)
            return (row.status, row.message_ts) if row is not None else (None, None)

        status, thread = await self._batcher.run(alert_row)
        outcome = Outcome.PAUSED  # its alert never went out: nothing to reply to
        if status in (DeliveryStatus.PENDING, DeliveryStatus.CLAIMED):
            outcome = Outcome.BUSY  # still in the outbox: the reply waits for its thread
        elif status == DeliveryStatus.SENT and thread is not None:
            fresh = FreshAgain(thread, cursor.backup_id, cursor.backup_name, good_id)
            outcome = await self._announcer.owe(fresh, channel)
        if outcome.settled:
            await self._batcher.run(
                lambda s: StalenessRepository(s).close_episode(binding.id, cursor.backup_id)
            )
