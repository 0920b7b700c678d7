"""Runs that take unusually long: "⏳ *Nightly CRM* (456) has been running 2h 10m — it usually
takes 40m", once per run and channel, and "… finished after 2h 31m" in the same thread.

Each listening channel has a limit per backup (`alerts overdue 456 2h`), none (`off`), or
`auto`, the default: 3 times the median duration of the backup's recent successful runs, never
under 15 minutes, and nothing at all until 3 such runs are known. The durations come from the
runs the stale check already lists (`bot.services.alerting.staleness.learn`, cached on the cursor),
so learning them costs no call of its own.

The Skyvia budget (docs/reference/guarantees.md#speed-and-scale)
---------------------------------------------------------------
Skyvia lists only finished runs; a run in progress is seen with `GET .../snapshots/active`. It
is asked for only when a run is believed to be going *and could already be past a limit*:

- the cursor saw a run going (`running_snapshot_id`), or the channel watches one (a pending
  watch), and its start plus the shortest limit has passed: at most once per alert interval,
  until it ends (then its end is told);
- otherwise the schedule says a run should have started (the latest scheduled start plus the
  learned gap between runs) at least the shortest limit ago: at most once per that limit (15
  minutes with `auto`), since a run started since the last "none" cannot be overdue sooner.

A run whose end must be told costs one `GET .../snapshots/{id}` for its true duration and state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.alerting.failure_listing import Listeners
from bot.services.announcements import Announcer, Channel, OverdueEnded, RunOverdue
from bot.services.models import WatchedRun
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import ActiveRun
from storage.batching import WriteBatcher
from storage.models import DeliveryKind, DeliveryStatus, Watch
from storage.records import BindingRecord, CursorRecord
from storage.repositories import (
    AlertCursorRepository,
    DeliveryLedger,
    StaleSetting,
    WatchRepository,
)

log = logging.getLogger(__name__)

AUTO_FACTOR = 3.0
AUTO_FLOOR = timedelta(minutes=15)
MIN_LIMIT = timedelta(minutes=10)
"""The shortest limit a person may set: shorter would call ordinary runs overdue."""
ONCE_PER_INTERVAL = 0.9
"""A fraction of the interval: a scan a little early in its round still asks once per round."""


def limit_of(setting: StaleSetting, usual_seconds: float | None) -> float | None:
    """The channel's overdue limit in seconds, or None (off, or `auto` not learned yet)."""
    if setting.overdue_disabled:
        return None
    if setting.overdue_seconds is not None:
        return float(setting.overdue_seconds)
    if usual_seconds is None:
        return None
    return max(AUTO_FLOOR.total_seconds(), AUTO_FACTOR * usual_seconds)


@dataclass(frozen=True)
class Going:
    """A run in progress as `/active` told it: its id, since when, and for how long."""

    snapshot_id: int
    since: datetime
    seconds: float


class OverdueTracker:
    def __init__(
        self,
        *,
        skyvia: SkyviaClient,
        announcer: Announcer,
        batcher: WriteBatcher,
        owner: Callable[[], str],
        interval: float,
    ) -> None:
        self._skyvia = skyvia
        self._announcer = announcer
        self._batcher = batcher
        self._owner = owner
        self._interval = interval

    def limits(self, cursor: CursorRecord, listeners: Listeners) -> dict[int, float]:
        """Each hearing channel's limit for the backup, by binding id (none: not listed)."""
        found: dict[int, float] = {}
        for binding in listeners.bindings:
            setting = listeners.stale_setting(binding.id, cursor.backup_id)
            limit = limit_of(setting, cursor.usual_run_seconds)
            if limit is not None and listeners.hear(binding, cursor.backup_id, None):
                found[binding.id] = limit
        return found

    def due(
        self,
        cursor: CursorRecord,
        limits: dict[int, float],
        watched_since: datetime | None,
        now: datetime,
    ) -> bool:
        """Whether to ask Skyvia for the backup's active run now (see the module docstring)."""
        known = cursor.running_snapshot_id is not None
        if not known and not limits:
            return False
        shortest = min(limits.values(), default=0.0)
        if known:
            since = cursor.running_since or now
        elif watched_since is not None:
            since = watched_since
        elif cursor.scheduled is not False and cursor.last_start_at and cursor.cadence_seconds:
            since = cursor.last_start_at + timedelta(seconds=cursor.cadence_seconds)
        else:
            return False
        if now < since + timedelta(seconds=shortest):
            return False
        gap = self._interval * ONCE_PER_INTERVAL
        if not known and watched_since is None:
            gap = max(gap, shortest)
        last = cursor.active_checked_at
        return last is None or (now - last).total_seconds() >= gap

    async def check(
        self,
        cursor: CursorRecord,
        listeners: Listeners,
        token: str,
        limit: asyncio.Semaphore,
        now: datetime,
    ) -> None:
        """Asks for the active run when due; tells the channels past their limit, and the end
        of a run they were told of."""
        limits = self.limits(cursor, listeners)
        if not limits and cursor.running_snapshot_id is None:
            return  # nothing to ask (`due`): no read of the backup's watches either
        watches = await self._batcher.run(
            lambda s: WatchRepository(s).pending_for_backup(cursor.workspace_id, cursor.backup_id)
        )
        watched_since = min((w.started_at for w in watches), default=None)
        if not self.due(cursor, limits, watched_since, now):
            return
        try:
            async with limit:
                active = await self._skyvia.get_active_snapshot(
                    token, cursor.workspace_id, cursor.backup_id
                )
        except SkyviaError as exc:
            log.warning("active run of backup %s: %s", cursor.backup_id, exc)
            return
        going = _going(active, cursor, now)
        keep = (going.snapshot_id, going.since) if going else None
        ended = cursor.running_snapshot_id
        if ended is not None and (going is None or going.snapshot_id != ended):
            told = await self._ended(cursor, listeners, ended, token, limit)
            if not told and going is None:
                keep = (ended, cursor.running_since or now)  # its end is told next time
        if going is not None:
            await self._overdue(cursor, listeners, limits, going)
        await self._batcher.run(
            lambda s: AlertCursorRepository(s).record_active(
                cursor.workspace_id,
                cursor.backup_id,
                owner=self._owner(),
                asked_at=now,
                running=keep,
            )
        )

    async def _overdue(
        self,
        cursor: CursorRecord,
        listeners: Listeners,
        limits: dict[int, float],
        going: Going,
    ) -> None:
        late = [b for b in listeners.bindings if going.seconds >= limits.get(b.id, float("inf"))]
        if not late:
            return
        run = going.snapshot_id

        done = await self._batcher.run(
            lambda s: DeliveryLedger(s).owed_keys([run], DeliveryKind.OVERDUE)
        )
        for binding in late:
            if (binding.team_id, binding.channel_id, run) in done:
                continue
            thread = await self._card_of(binding, run)
            try:
                overdue = RunOverdue(
                    cursor.backup_id,
                    cursor.backup_name,
                    run,
                    going.seconds,
                    cursor.usual_run_seconds,
                    thread,
                )
                await self._announcer.owe(overdue, _channel(binding))
            except Exception:
                log.exception("overdue note of snapshot %s failed", run)

    async def _ended(
        self,
        cursor: CursorRecord,
        listeners: Listeners,
        run: int,
        token: str,
        limit: asyncio.Semaphore,
    ) -> bool:
        """Tells the end of `run` in each thread that heard it was overdue; False when some
        end is still to be told (its note is still in the outbox, or Skyvia did not answer)."""
        keys = {
            b.id: (b.team_id, b.channel_id, run, DeliveryKind.OVERDUE) for b in listeners.bindings
        }
        rows = await self._batcher.run(lambda s: DeliveryLedger(s).get_many(keys.values()))
        owed = [b for b in listeners.bindings if keys[b.id] in rows]
        if not owed:
            return True
        try:
            async with limit:
                snapshot = await self._skyvia.get_snapshot(
                    token, cursor.workspace_id, cursor.backup_id, run
                )
        except SkyviaError as exc:
            log.warning("end of overdue snapshot %s unknown: %s", run, exc)
            return False
        settled = True
        for binding in owed:
            row = rows[keys[binding.id]]
            if row.status in (DeliveryStatus.PENDING, DeliveryStatus.CLAIMED):
                settled = False  # the note waits in the outbox: its end waits for its thread
                continue
            thread = await self._card_of(binding, run) or row.message_ts
            if row.status != DeliveryStatus.SENT or thread is None:
                continue  # the note never went out: nothing to reply to
            ended = OverdueEnded(thread, cursor.backup_id, cursor.backup_name, snapshot)
            outcome = await self._announcer.owe(ended, _channel(binding))
            settled = settled and outcome.settled
        return settled

    async def _card_of(self, binding: BindingRecord, run: int) -> str | None:
        """The thread of the run's card in this channel when the channel watches it."""
        watch: Watch | None = await self._batcher.run(
            lambda s: WatchRepository(s).get_for_snapshot(binding.team_id, binding.channel_id, run)
        )
        return WatchedRun.of(watch).thread_ts if watch is not None else None


def _channel(binding: BindingRecord) -> Channel:
    return Channel(binding.team_id, binding.channel_id, binding.mention_ids)


def _going(active: ActiveRun | None, cursor: CursorRecord, now: datetime) -> Going | None:
    """The run `/active` shows, with how long it has run by Skyvia's count (our clock and
    Skyvia's may differ; its `duration` does not depend on ours)."""
    if active is None:
        return None
    if active.duration is not None:
        seconds = float(active.duration)
    elif active.run_id == cursor.running_snapshot_id and cursor.running_since is not None:
        seconds = (now - cursor.running_since).total_seconds()
    else:
        seconds = 0.0
    return Going(active.run_id, now - timedelta(seconds=seconds), seconds)
