"""A backup's schedule: read it, and switch it on or off with an audit entry for every attempt."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.services.audit import Actor, Entry, record
from bot.services.backups import failure_detail
from bot.services.bindings import BoundWorkspace
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import Backup
from storage.db import Database


@dataclass(frozen=True)
class ScheduleState:
    backup: Backup
    active: bool


@dataclass(frozen=True)
class ScheduleChange:
    """`changed` is False when the schedule already was as asked (a stale button, a repeat)."""

    backup: Backup
    active: bool
    changed: bool


class ScheduleService:
    def __init__(self, *, db: Database, skyvia: SkyviaClient) -> None:
        self._db = db
        self._skyvia = skyvia

    async def status(self, bound: BoundWorkspace, backup_id: int) -> ScheduleState:
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        schedule = await self._skyvia.get_schedule(bound.token, bound.workspace_id, backup_id)
        return ScheduleState(backup=backup, active=schedule.active)

    async def set_active(
        self, bound: BoundWorkspace, backup_id: int, *, active: bool, user_id: str
    ) -> ScheduleChange:
        """Switches the schedule to `active` (a target state, not a flip).

        The current state is read first, so a repeated or stale request changes nothing and the
        caller does not announce a change that did not happen. Failures are audited too: an
        attempt that Skyvia refused is part of "who did what".
        """
        actor = Actor(bound.team_id, bound.channel_id, user_id)
        action, target = ("schedule on" if active else "schedule off"), f"backup {backup_id}"
        try:
            backup, current = await asyncio.gather(
                self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id),
                self._skyvia.get_schedule(bound.token, bound.workspace_id, backup_id),
            )
            if current.active == active:
                change = ScheduleChange(backup=backup, active=active, changed=False)
            else:
                switch = self._skyvia.enable_schedule if active else self._skyvia.disable_schedule
                result = await switch(bound.token, bound.workspace_id, backup_id)
                change = ScheduleChange(backup=backup, active=result.active, changed=True)
        except SkyviaError as error:
            await record(self._db, actor, Entry(action, target, "failed", failure_detail(error)))
            raise
        outcome = "ok" if change.changed else "unchanged"
        await record(
            self._db, actor, Entry(action, target, outcome, f"workspace {bound.workspace_id}")
        )
        return change
