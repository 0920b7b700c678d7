"""Health at a glance: every backup of a channel's workspace, worst first.

One `health` costs Skyvia one backups listing (paged by the client) and one snapshots listing
of the last `RECENT_RUNS` per backup. The per-backup listings run together, but every request
still passes the client's per-workspace semaphore, so a workspace with hundreds of backups is
read at the same bounded pace as any other burst and never floods Skyvia. A backup whose
listing fails is shown as unknown instead of failing the whole answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from bot.services.bindings import BindingService, BoundWorkspace
from bot.services.models import BackupHealth, WorkspaceHealth
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import Snapshot

log = logging.getLogger(__name__)

RECENT_RUNS = 10
"""Finished runs read per backup: the strip of `health`."""


def worst_first(items: Collection[BackupHealth]) -> list[BackupHealth]:
    """Failing (longest streak first), unknown, never run, then healthy (stalest first).

    Within a kind, the backup whose last good snapshot is oldest (or missing) comes first, then
    by name and id, so the order is stable from one call to the next.
    """

    def key(item: BackupHealth) -> tuple[int, int, float, str, int]:
        good = item.last_good
        age_key = good.timestamp() if good is not None else float("-inf")
        name = (item.backup.name or "").casefold()
        return (item.condition, -item.failing_streak, age_key, name, item.backup.id)

    return sorted(items, key=key)


class HealthService:
    def __init__(self, *, skyvia: SkyviaClient, bindings: BindingService) -> None:
        self._skyvia = skyvia
        self._bindings = bindings

    async def workspace(self, bound: BoundWorkspace) -> WorkspaceHealth:
        """Every backup of the bound workspace with its last runs, worst first."""
        status = await self._bindings.status(bound.team_id, bound.channel_id)
        muted = set(status.binding.muted_backup_ids) if status.binding else set()
        backups = [b async for b in self._skyvia.iter_backups(bound.token, bound.workspace_id)]
        runs = await asyncio.gather(*(self._recent_runs(bound, b.id) for b in backups))
        items = [
            BackupHealth(backup=backup, runs=found, muted=backup.id in muted)
            for backup, found in zip(backups, runs, strict=True)
        ]
        return WorkspaceHealth(
            workspace_id=bound.workspace_id,
            workspace_name=bound.workspace_name,
            backups=worst_first(items),
        )

    async def _recent_runs(
        self, bound: BoundWorkspace, backup_id: int
    ) -> tuple[Snapshot, ...] | None:
        try:
            page = await self._skyvia.list_snapshots(
                bound.token,
                bound.workspace_id,
                backup_id,
                take=RECENT_RUNS,
                sort_order="desc",
                sort_by="startTime",
            )
        except SkyviaError as error:
            log.warning(
                "health: snapshots of backup %s unreadable: %s",
                backup_id,
                type(error).__name__,
                extra={"workspace": bound.workspace_id},
            )
            return None
        return tuple(page.data[:RECENT_RUNS])
