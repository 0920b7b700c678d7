"""Timed mutes, maintenance windows and daily digests: each fired once, on time, across restarts.

A timer is a row (`storage.repositories.timers`), not a task in memory, so it survives restarts
and any replica may fire it. Firing is claim → act → announce → finish, each timer under a
lease: a crash anywhere leaves the row to be claimed again when the lease expires, so each step
is idempotent. Unmuting twice is harmless; a window's re-enable reads the schedule first and
records in the timer that it enabled it, so a retry after a crash still says "enabled" rather
than "someone enabled it meanwhile"; the end note goes through the delivery ledger (`Announcer`)
and is posted once per channel.

Maintenance windows belong to the backup (the workspace's backup), not to the channel that
opened them: windows from several channels on one backup end together at the latest end (an
earlier end only tells its channel that the schedule stays off), and a person switching the
schedule by hand (`close_windows`) closes them all, so no window's end undoes what they did.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypedDict

from bot.clock import utcnow
from bot.services.alert_settings import AlertSettings, MuteChanged
from bot.services.announcements import (
    Announcer,
    Channel,
    DigestDue,
    MuteEnded,
    News,
    Outcome,
    WindowEnded,
)
from bot.services.bindings import BindingService, BoundWorkspace
from bot.services.digests import DigestSetting, digest_day, next_digest_at
from bot.services.errors import DomainError, NoDefaultToken
from bot.services.health import HealthService
from bot.services.leasing import lease_for
from bot.services.schedules import ScheduleService
from bot.services.token_policy import TokenPolicy
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaError, SkyviaNotFound
from bot.skyvia.models import Backup
from storage.crypto import TokenDecryptError
from storage.db import Database
from storage.models import Timer, TimerKind
from storage.repositories import BindingRepository, TimerRepository

__all__ = ["FireRound", "PendingEnd", "TimedMute", "TimerKind", "TimerService", "WindowOpened"]

log = logging.getLogger(__name__)

BATCH = 50
"""Timers fired per round; a fuller batch makes the worker go again at once."""


SAME_END = timedelta(minutes=1)
"""Two ends this close are the same end: `for 1h` typed again, `for 90m` after `for 1h30m`.
A repeat like that changes nothing and keeps the first end (told to the person only:
docs/reference/messages.md#channel-notices)."""


@dataclass(frozen=True)
class TimedMute:
    """A mute that ends by itself at `until`; `changed` is False if it was muted already;
    `repeat` when it was muted until the same end, so nothing changed at all."""

    backup: Backup
    until: datetime
    changed: bool
    repeat: bool = False


@dataclass(frozen=True)
class WindowOpened:
    """The schedule is off until `until`; `was_active` is False when it was off already;
    `repeat` when a window with the same end was open already, so nothing changed at all."""

    backup: Backup
    until: datetime
    was_active: bool
    repeat: bool = False


@dataclass(frozen=True)
class PendingEnd:
    """A pending mute's or window's end, for `status` and `schedule <id>`."""

    kind: TimerKind
    backup_id: int
    due_at: datetime
    backup_name: str | None = None


@dataclass(frozen=True)
class FireRound:
    fired: int
    full: bool


class TimerService:
    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        bindings: BindingService,
        alert_settings: AlertSettings,
        token_policy: TokenPolicy,
        schedules: ScheduleService,
        announcer: Announcer | None = None,
        health: HealthService | None = None,
        owner: str = "",
        interval: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._bindings = bindings
        self._alert_settings = alert_settings
        self._token_policy = token_policy
        self._schedules = schedules
        self._announcer = announcer
        self._health = health
        self._owner = owner
        self.interval = interval
        self._clock = clock

    # -- setting and cancelling (request side) ------------------------------------------------
    async def mute_until(
        self, bound: BoundWorkspace, backup_id: int, *, user_id: str, until: datetime, words: str
    ) -> TimedMute:
        """Mutes the backup here (if not yet) and sets the mute's end, replacing an older end."""
        result = await self._alert_settings.mute(bound, backup_id, user_id=user_id, mute=True)
        if isinstance(result, MuteChanged):
            backup = result.backup
        else:
            kept = await self._same_end(TimerKind.MUTE_END, bound, backup_id, until)
            if kept is not None:
                return TimedMute(kept[0], kept[1], changed=False, repeat=True)
            backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        await self._set(TimerKind.MUTE_END, bound, backup, until, user_id, words)
        return TimedMute(backup=backup, until=until, changed=isinstance(result, MuteChanged))

    async def open_window(
        self, bound: BoundWorkspace, backup_id: int, *, user_id: str, until: datetime, words: str
    ) -> WindowOpened:
        """Switches the schedule off now and sets the window's end (when it is back on)."""
        change = await self._schedules.set_active(bound, backup_id, active=False, user_id=user_id)
        if not change.changed:
            kept = await self._same_end(TimerKind.WINDOW_END, bound, backup_id, until)
            if kept is not None:
                return WindowOpened(change.backup, kept[1], was_active=False, repeat=True)
        await self._set(TimerKind.WINDOW_END, bound, change.backup, until, user_id, words)
        return WindowOpened(backup=change.backup, until=until, was_active=change.changed)

    async def end_window_now(self, bound: BoundWorkspace, backup_id: int) -> bool:
        """Makes a pending window end due now (the worker ends it); False if there is none."""
        async with self._db.session() as session:
            timers = TimerRepository(session)
            timer = await timers.get(**_key(TimerKind.WINDOW_END, bound, backup_id))
            if timer is None:
                return False
            timer.due_at = min(timer.due_at, self._clock())
            return True

    async def close_windows(
        self, bound: BoundWorkspace, backup_id: int, *, user_id: str, active: bool
    ) -> int:
        """Someone switched the schedule by hand: every open window on the backup ends now.

        Each ends through the worker as any end does (once, with a note in the channel that
        opened it), but does nothing to the schedule: the note says who set it `active`. A window
        whose end already enabled the schedule is left to finish its own note. Returns how many
        windows were closed.
        """
        now = self._clock()
        async with self._db.session() as session:
            rows = await TimerRepository(session).on_backup(
                TimerKind.WINDOW_END, bound.workspace_id, backup_id
            )
            closed = 0
            for row in rows:
                payload = json.loads(row.payload or "{}")
                if payload.get("enabled") or payload.get("closed_by"):
                    continue
                closing = {**payload, "closed_by": user_id, "closed_on": active}
                row.payload = json.dumps(closing)
                row.due_at = min(row.due_at, now)
                closed += 1
            return closed

    async def drop_channel(self, team_id: str, channel_id: str) -> int:
        """The channel's binding went (disconnected, or bound to another workspace): its mutes'
        ends and its digest go with it. Its windows stay: they end with their own credentials."""
        async with self._db.session() as session:
            return await TimerRepository(session).drop_in(
                team_id, channel_id, (TimerKind.MUTE_END, TimerKind.DIGEST)
            )

    async def cancel(self, kind: TimerKind, bound: BoundWorkspace, backup_id: int) -> bool:
        """Drops a pending end: an unmute, a mute "until unmuted", or the schedule switched."""
        async with self._db.session() as session:
            return await TimerRepository(session).cancel(**_key(kind, bound, backup_id))

    async def pending(self, team_id: str, channel_id: str) -> list[PendingEnd]:
        async with self._db.session() as session:
            rows = await TimerRepository(session).pending_in(team_id, channel_id)
        ends = (TimerKind.MUTE_END, TimerKind.WINDOW_END)
        return [
            PendingEnd(TimerKind(row.kind), row.backup_id, row.due_at, _ended(row).backup_name)
            for row in rows
            if row.kind in ends and not _closed(row)
        ]

    async def _same_end(
        self, kind: TimerKind, bound: BoundWorkspace, backup_id: int, until: datetime
    ) -> tuple[Backup, datetime] | None:
        """The backup (named as when the end was set) and the pending end, when one of `kind`
        ends within `SAME_END` of `until`; None otherwise."""
        async with self._db.session() as session:
            timer = await TimerRepository(session).get(**_key(kind, bound, backup_id))
        if timer is None or abs(timer.due_at - until) > SAME_END:
            return None
        name = json.loads(timer.payload or "{}").get("name")
        return Backup(id=backup_id, name=name), timer.due_at

    async def _set(
        self,
        kind: TimerKind,
        bound: BoundWorkspace,
        backup: Backup,
        until: datetime,
        user_id: str,
        words: str,
    ) -> None:
        """Records the end with the workspace it is for, and for a window a copy of the
        channel's stored token (still encrypted), so it ends even if the binding goes."""
        payload = {"by": user_id, "words": words, "name": backup.name}
        async with self._db.session() as session:
            binding = await BindingRepository(session).get(bound.team_id, bound.channel_id)
            sealed = binding.token_ciphertext if binding is not None else None
            await TimerRepository(session).set(
                **_key(kind, bound, backup.id),
                due_at=until,
                payload=json.dumps(payload),
                workspace_id=bound.workspace_id,
                token_ciphertext=sealed if kind == TimerKind.WINDOW_END else None,
            )

    # -- firing (worker side) -------------------------------------------------------------------
    async def fire_due(self) -> FireRound:
        """Claims due timers and ends each; a timer that could not end is retried later."""
        now = self._clock()
        async with self._db.session() as session:
            claimed = await TimerRepository(session).claim_due(
                self._owner, now, BATCH, lease_for(self.interval)
            )
        results = await asyncio.gather(*(self._fire(timer) for timer in claimed))
        return FireRound(fired=sum(results), full=len(claimed) == BATCH)

    async def _fire(self, timer: Timer) -> bool:
        try:
            outcome = await self._end(timer)
        except PERMANENT as error:  # a mute's or digest's: retrying would not heal it
            log.warning("timer %s (%s) given up: %s", timer.id, timer.kind, _why_not(error))
            outcome = Outcome.GAVE_UP
        except (SkyviaError, DomainError) as error:
            log.warning("timer %s (%s) not ended yet: %s", timer.id, timer.kind, error)
            outcome = Outcome.FAILED
        except Exception:
            log.exception("timer %s (%s) failed", timer.id, timer.kind)
            outcome = Outcome.FAILED
        async with self._db.session() as session:
            timers = TimerRepository(session)
            if outcome is not None and not outcome.settled:
                retry = self.interval if outcome is not Outcome.UNKNOWN else self._stale_after()
                retry_at = self._clock() + timedelta(seconds=retry)
                await timers.release(timer.id, self._owner, retry_at)
                return False
            if timer.kind == TimerKind.DIGEST and outcome is not None:
                setting = DigestSetting.of(timer)
                tomorrow = next_digest_at(self._clock(), setting.at, setting.tz)
                return await timers.release(timer.id, self._owner, tomorrow)
            return await timers.finish(timer.id, self._owner)

    def _stale_after(self) -> float:
        assert self._announcer is not None
        return self._announcer.stale_after.total_seconds()

    async def _end(self, timer: Timer) -> Outcome | None:
        """Ends one timer; None when there is nothing to say (the channel was disconnected, or
        bound to another workspace since, for a mute or a digest)."""
        assert self._announcer is not None, "firing timers needs an announcer"
        if timer.kind == TimerKind.WINDOW_END:
            return await self._end_window(timer)
        bound = await self._bound(timer)
        if bound is None:
            return None
        if timer.kind == TimerKind.DIGEST:
            return await self._digest(timer, bound)
        await self._alert_settings.unmute_quietly(bound, timer.backup_id)
        return await self._tell(timer, _ended(timer))

    async def _tell(self, timer: Timer, news: News) -> Outcome:
        """Owes what the timer's end says to the channel it was set in."""
        assert self._announcer is not None
        return await self._announcer.owe(news, Channel(timer.team_id, timer.channel_id))

    async def _end_window(self, timer: Timer) -> Outcome | None:
        """Turns the schedule back on, unless a person switched it by hand meanwhile or another
        window on the backup ends later; with the credentials the window was opened with."""
        payload = json.loads(timer.payload or "{}")
        ended = _ended(timer)
        if payload.get("closed_by"):
            by_hand = replace(
                ended, enabled=False, by_hand=payload["closed_by"], turned_on=payload["closed_on"]
            )
            return await self._tell(timer, by_hand)
        later = await self._later_window(timer)
        if later is not None:
            held = replace(ended, enabled=False, held_until=later)
            return await self._tell(timer, held)
        try:
            bound = await self._opened_with(timer)
            if bound is None:
                return None
            enabled = await self._reenable(timer, bound, payload)
        except PERMANENT as error:
            why = _why_not(error)
            log.warning("window %s cannot turn its schedule back on: %s", timer.id, why)
            return await self._tell(timer, replace(ended, enabled=False, failed=why))
        return await self._tell(timer, replace(ended, enabled=enabled))

    async def _later_window(self, timer: Timer) -> datetime | None:
        """The latest end of another open window on this backup, if later than this one's: the
        schedule stays off until then (that window's end turns it on)."""
        if timer.workspace_id is None:
            return None
        async with self._db.session() as session:
            rows = await TimerRepository(session).on_backup(
                TimerKind.WINDOW_END, timer.workspace_id, timer.backup_id
            )
        ends = [r.ends_at for r in rows if r.id != timer.id and not _closed(r)]
        latest = max(ends, default=None)
        return latest if latest is not None and latest > timer.ends_at else None

    async def _digest(self, timer: Timer, bound: BoundWorkspace) -> Outcome:
        """The digest of the latest day whose time has passed (once per day, by the ledger),
        unless the channel had one on that local day already (set again from another zone)."""
        assert self._health is not None
        setting = DigestSetting.of(timer)
        day, moment = digest_day(self._clock(), setting.at, setting.tz)
        if setting.had(day):
            return Outcome.ALREADY_SENT
        health = await self._health.workspace(bound)
        outcome = await self._tell(timer, DigestDue(day, setting, health, moment))
        if outcome.settled:
            async with self._db.session() as session:
                await TimerRepository(session).note(timer.id, self._owner, setting.payload(moment))
        return outcome

    async def _reenable(self, timer: Timer, bound: BoundWorkspace, payload: dict[str, str]) -> bool:
        """Enables the schedule unless it is on already; True if this window's end enabled it."""
        if payload.get("enabled"):
            return True  # a retry: this end enabled it before the note went out
        schedule = await self._skyvia.get_schedule(bound.token, bound.workspace_id, timer.backup_id)
        if schedule.active:
            return False
        await self._skyvia.enable_schedule(bound.token, bound.workspace_id, timer.backup_id)
        async with self._db.session() as session:
            await TimerRepository(session).note(
                timer.id, self._owner, json.dumps({**payload, "enabled": True})
            )
        return True

    async def _bound(self, timer: Timer) -> BoundWorkspace | None:
        """The channel's binding for a mute's or digest's end; None once it is gone or bound to
        another workspace than the timer was set for (that workspace never had this mute)."""
        try:
            bound = await self._bindings.resolve(timer.team_id, timer.channel_id)
        except DomainError:
            return None  # disconnected: its mutes and digest are gone
        if timer.workspace_id is not None and bound.workspace_id != timer.workspace_id:
            return None
        return bound

    async def _opened_with(self, timer: Timer) -> BoundWorkspace | None:
        """The workspace and token the window was opened with, whatever the binding is now
        (docs/reference/commands.md); a window older than those columns uses the binding."""
        if timer.workspace_id is None:
            return await self._bound(timer)
        token = self._token_policy.token_for(timer.team_id, timer.token_ciphertext)
        return BoundWorkspace(
            team_id=timer.team_id,
            channel_id=timer.channel_id,
            workspace_id=timer.workspace_id,
            workspace_name=None,
            alerts_enabled=True,
            paused_reason=None,
            token=token,
        )


def _ended(timer: Timer) -> MuteEnded | WindowEnded:
    """What a mute's or window's end note says, from the row (who set it, how, which end)."""
    payload = json.loads(timer.payload or "{}")
    ended = WindowEnded if timer.kind == TimerKind.WINDOW_END else MuteEnded
    return ended(
        backup_id=timer.backup_id,
        backup_name=payload.get("name"),
        set_by=payload.get("by", ""),
        words=payload.get("words", ""),
        ends_at=timer.ends_at,
    )


PERMANENT = (SkyviaAuthError, SkyviaNotFound, TokenDecryptError, NoDefaultToken)
"""Errors no retry heals (docs/reference/guarantees.md): the end is given up, with a note."""


def _why_not(error: Exception) -> str:
    """Why a timer could not act, in the channel's words (never the token itself)."""
    if isinstance(error, SkyviaAuthError):
        return "Skyvia rejected the access token the window was opened with"
    if isinstance(error, SkyviaNotFound):
        return "Skyvia no longer knows this backup (or its workspace)"
    if isinstance(error, TokenDecryptError):
        return "the stored access token no longer decrypts (the encryption key changed)"
    return "the bot's default Skyvia token no longer serves this Slack workspace"


def _closed(timer: Timer) -> bool:
    """A window someone closed by hand: its end is only a note now, and `status` omits it."""
    return bool(json.loads(timer.payload or "{}").get("closed_by"))


class _Key(TypedDict):
    kind: str
    team_id: str
    channel_id: str
    backup_id: int


def _key(kind: TimerKind, bound: BoundWorkspace, backup_id: int) -> _Key:
    return _Key(kind=kind, team_id=bound.team_id, channel_id=bound.channel_id, backup_id=backup_id)
