"""Health at a glance: every backup of a channel's workspace, worst first.

One `health` costs Skyvia one backups listing (paged by the client) and one snapshots listing
of the last `RECENT_RUNS` per backup. The per-backup listings run together, but every request
still passes the client's per-workspace semaphore, so a workspace with hundreds of backups is
read at the same bounded pace as any other burst and never floods Skyvia. A backup whose
listing fails is shown as unknown instead of failing the whole answer.

Turning a page (`Previous`/`Next`) reuses the reading of the last minute for that workspace and
token (hash, never the token) rather than reading every backup again; a typed `health` and
`Share in channel` read afresh. The mutes, who is on each failing backup's alert ("I'm on
it", `bot.services.takers`) and the channel's open stale alerts (a backup with one is stale, not
healthy) are always read afresh (the database, not Skyvia).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from cachetools import TTLCache

from bot.services.alert_settings import AlertSettings
from bot.services.backup_names import cache_key
from bot.services.bindings import BoundWorkspace
from bot.services.models import BackupHealth, WorkspaceHealth
from bot.services.takers import AlertTakers
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import Backup, Snapshot

log = logging.getLogger(__name__)

RECENT_RUNS = 10
"""Finished runs read per backup: the strip of `health`."""
READING_TTL_SECONDS = 60.0
"""How long page turns reuse a workspace's reading."""
READINGS_CACHED = 200
"""Workspaces whose reading is kept; beyond it the least recently used go."""

Reading = list[tuple[Backup, tuple[Snapshot, ...] | None]]


def worst_first(items: Collection[BackupHealth]) -> list[BackupHealth]:
    """Failing (longest streak first), stale, unknown, never run, then healthy (stalest first).

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
    def __init__(
        self,
        *,
        skyvia: SkyviaClient,
        alert_settings: AlertSettings,
        takers: AlertTakers | None = None,
    ) -> None:
        self._skyvia = skyvia
        self._alert_settings = alert_settings
        self._takers = takers
        self._readings: TTLCache[tuple[int, str], Reading] = TTLCache(
            maxsize=READINGS_CACHED, ttl=READING_TTL_SECONDS
        )

    async def workspace(self, bound: BoundWorkspace, *, fresh: bool = True) -> WorkspaceHealth:
        """Every backup of the bound workspace with its last runs, worst first.

        `fresh=False` (a page turn) reuses the last minute's reading of this workspace."""
        muted = await self._alert_settings.muted(bound)
        key = cache_key(bound.workspace_id, bound.token)
        reading = None if fresh else self._readings.get(key)
        if reading is None:
            reading = self._readings[key] = await self._read(bound)
        taken = (
            {}
            if self._takers is None
            else await self._takers.of_failing(bound.team_id, bound.channel_id)
        )
        overdue = await self._alert_settings.overdue_runs(bound)
        stale = await self._alert_settings.stale_backups(bound)
        items = [
            BackupHealth(
                backup=backup,
                runs=found,
                muted=backup.id in muted,
                takers=taken.get(backup.id, ()),
                overdue=overdue.get(backup.id),
                stale=backup.id in stale,
            )
            for backup, found in reading
        ]
        return WorkspaceHealth(
            workspace_id=bound.workspace_id,
            workspace_name=bound.workspace_name,
            backups=worst_first(items),
        )

    async def _read(self, bound: BoundWorkspace) -> Reading:
        backups = [b async for b in self._skyvia.iter_backups(bound.token, bound.workspace_id)]
        runs = await asyncio.gather(*(self._recent_runs(bound, b.id) for b in backups))
        return list(zip(backups, runs, strict=True))

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
