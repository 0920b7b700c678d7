"""A backup's schedule: read it, and switch it on or off with an audit entry for every attempt."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.services.backups import failure_detail
from bot.services.bindings import BoundWorkspace
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import Backup
from storage.db import Database
from storage.repositories import AuditRepository


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
        action = "schedule on" if active else "schedule off"
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
            await self._audit(bound, user_id, action, backup_id, "failed", failure_detail(error))
            raise
        await self._audit(
            bound,
            user_id,
            action,
            backup_id,
            "ok" if change.changed else "unchanged",
            f"workspace {bound.workspace_id}",
        )
        return change

    async def _audit(
        self,
        bound: BoundWorkspace,
        user_id: str,
        action: str,
        backup_id: int,
        result: str,
        detail: str,
    ) -> None:
        async with self._db.session() as session:
            await AuditRepository(session).add(
                team_id=bound.team_id,
                channel_id=bound.channel_id,
                user_id=user_id,
                action=action,
                target=f"backup {backup_id}",
                result=result,
                detail=detail,
            )
