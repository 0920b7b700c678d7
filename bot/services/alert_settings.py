"""A bound channel's alert settings: alerts on or off, muted backups, stale and overdue limits.

Each change is audited, and a repeat changes nothing (and asks Skyvia nothing). A change that
names a backup first checks it exists in the channel's workspace, so a typo cannot leave a
setting that silences or watches nothing. Also the reads `health` adds to its list: the backups
muted here, the stale alerts still open, the runs this channel was told take unusually long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import utcnow
from bot.services.audit import Actor, Entry, record_in
from bot.services.bindings import BoundWorkspace
from bot.services.errors import NotBound
from bot.skyvia.client import SkyviaClient
from bot.skyvia.models import Backup
from storage.db import Database
from storage.models import DeliveryKind
from storage.repositories import (
    AlertCursorRepository,
    BindingRepository,
    DeliveryLedger,
    StalenessRepository,
)


@dataclass(frozen=True)
class MuteChanged:
    """The backup's alerts in this channel are now `muted` (they were not before)."""

    backup: Backup
    muted: bool


@dataclass(frozen=True)
class MuteUnchanged:
    """The backup's alerts already were as asked; nothing was written and Skyvia not asked."""

    backup_id: int
    muted: bool


MuteResult = MuteChanged | MuteUnchanged


class AlertSettings:
    def __init__(
        self, *, db: Database, skyvia: SkyviaClient, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._clock = clock

    async def set_alerts(
        self, *, team_id: str, channel_id: str, user_id: str, enabled: bool
    ) -> bool:
        """Turns the channel's alerts on or off; False when they already were (nothing written).

        A repeat must not move `alerts_since` either: `alerts on` twice would otherwise silence
        failures that ended between the two.
        """
        action = "alerts on" if enabled else "alerts off"
        actor = Actor(team_id, channel_id, user_id)
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            row = await bindings.get(team_id, channel_id)
            if row is None:
                raise NotBound()
            if row.alerts_enabled == enabled:
                await record_in(session, actor, Entry(action, "channel", "unchanged"))
                return False
            await bindings.set_alerts(team_id, channel_id, enabled, now=self._clock())
            await record_in(session, actor, Entry(action, "channel", "ok"))
        return True

    async def mute(
        self, bound: BoundWorkspace, backup_id: int, *, user_id: str, mute: bool
    ) -> MuteResult:
        """Mutes (or unmutes) a backup's failure alerts in the bound channel.

        A repeat changes nothing and asks Skyvia nothing. A real change first checks that the
        backup exists in the channel's workspace (an unknown id fails as "not found"), so a
        typo cannot leave a mute that silences nothing. Every attempt is audited.
        """
        actor = Actor(bound.team_id, bound.channel_id, user_id)
        action, target = ("mute" if mute else "unmute"), f"backup {backup_id}"
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding_id = await self._binding_id(bindings, bound)
            already = (backup_id in await bindings.muted_backup_ids(binding_id)) == mute
            if already:
                await record_in(session, actor, Entry(action, target, "unchanged"))
        if already:
            return MuteUnchanged(backup_id=backup_id, muted=mute)
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding_id = await self._binding_id(bindings, bound)
            if mute:
                changed = await bindings.mute(
                    binding_id, backup_id, muted_by=user_id, now=self._clock()
                )
            else:
                changed = await bindings.unmute(binding_id, backup_id, now=self._clock())
            await record_in(session, actor, Entry(action, target, "ok" if changed else "unchanged"))
        if not changed:  # a concurrent request did it first
            return MuteUnchanged(backup_id=backup_id, muted=mute)
        return MuteChanged(backup=backup, muted=mute)

    async def unmute_quietly(self, bound: BoundWorkspace, backup_id: int) -> bool:
        """A timed mute's end: the mute goes without asking Skyvia (the backup was checked when
        it was muted, and a deleted backup's mute should end all the same). Audited as the
        mute's own end; a repeat (a retried end) changes nothing and returns False.
        """
        actor = Actor(bound.team_id, bound.channel_id, "timer")
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding_id = await self._binding_id(bindings, bound)
            changed = await bindings.unmute(binding_id, backup_id, now=self._clock())
            if changed:
                await record_in(session, actor, Entry("mute ended", f"backup {backup_id}", "ok"))
        return changed

    async def set_stale(
        self,
        bound: BoundWorkspace,
        backup_id: int,
        *,
        user_id: str,
        limit_seconds: int | None,
        off: bool,
        overdue: bool = False,
    ) -> Backup:
        """Sets the channel's stale limit for a backup (None and not `off`: learned, `auto`);
        with `overdue`, how long its run may take instead (`alerts overdue`).

        The backup is looked up first, so a typo cannot leave a limit that watches nothing.
        """
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        setting = "off" if off else ("auto" if limit_seconds is None else f"{limit_seconds}s")
        async with self._db.session() as session:
            binding_id = await self._binding_id(BindingRepository(session), bound)
            repo = StalenessRepository(session)
            set_limit = repo.set_overdue if overdue else repo.set_limit
            await set_limit(binding_id, backup_id, limit_seconds, disabled=off)
            # The new limit is checked against a fresh read of the runs at the next scan.
            await AlertCursorRepository(session).forget_runs(bound.workspace_id, backup_id)
            await record_in(
                session,
                Actor(bound.team_id, bound.channel_id, user_id),
                Entry(
                    f"alerts {'overdue' if overdue else 'stale'} {setting}",
                    f"backup {backup_id}",
                    "ok",
                ),
            )
        return backup

    async def overdue_runs(self, bound: BoundWorkspace) -> dict[int, tuple[int, datetime]]:
        """The runs of the workspace still going that this channel was told take unusually
        long (`health`): (snapshot, running since) by backup."""
        async with self._db.session() as session:
            running = await AlertCursorRepository(session).running(bound.workspace_id)
            told = await DeliveryLedger(session).owed_keys(
                [run for run, _ in running.values()], DeliveryKind.OVERDUE
            )
        return {
            backup: (run, since)
            for backup, (run, since) in running.items()
            if (bound.team_id, bound.channel_id, run) in told
        }

    async def muted(self, bound: BoundWorkspace) -> frozenset[int]:
        """The backups muted in the bound channel (the backups list marks their rows)."""
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            row = await bindings.get(bound.team_id, bound.channel_id)
            return (
                frozenset() if row is None else frozenset(await bindings.muted_backup_ids(row.id))
            )

    async def stale_backups(self, bound: BoundWorkspace) -> set[int]:
        """The backups this channel's stale alert is open about, no "fresh again" yet
        (`health`: they are stale, not healthy)."""
        async with self._db.session() as session:
            row = await BindingRepository(session).get(bound.team_id, bound.channel_id)
            if row is None:
                return set()
            settings = await StalenessRepository(session).for_bindings([row.id])
        return {backup for (_, backup), s in settings.items() if s.stale_snapshot_id is not None}

    @staticmethod
    async def _binding_id(bindings: BindingRepository, bound: BoundWorkspace) -> int:
        """The binding's row id, read again: it may have been disconnected since `resolve`."""
        row = await bindings.get(bound.team_id, bound.channel_id)
        if row is None:
            raise NotBound()
        return row.id
