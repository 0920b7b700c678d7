"""Stale limits per channel and backup, and each channel's open stale episode.

No row means `auto`. Like episodes, only the scanner holding the backup's cursor lease writes
the episode columns, and each write is idempotent (a scan cut short is redone by the next).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BackupStaleness


@dataclass(frozen=True)
class StaleSetting:
    """A plain copy of a row: the limit (None with `disabled` false is `auto`) and the episode."""

    limit_seconds: int | None = None
    disabled: bool = False
    stale_snapshot_id: int | None = None
    """The last good snapshot when the channel was told it is stale (0: none); None: fresh."""
    stale_announced: bool = False
    overdue_seconds: int | None = None
    """`alerts overdue`: a fixed limit; None with `overdue_disabled` false is `auto`."""
    overdue_disabled: bool = False


AUTO = StaleSetting()


class StalenessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_bindings(
        self, binding_ids: Collection[int]
    ) -> dict[tuple[int, int], StaleSetting]:
        """The rows of these bindings, by (binding, backup); a missing pair is `AUTO`."""
        if not binding_ids:
            return {}
        rows = await self.session.scalars(
            select(BackupStaleness).where(BackupStaleness.binding_id.in_(list(binding_ids)))
        )
        return {
            (r.binding_id, r.backup_id): StaleSetting(
                r.limit_seconds,
                r.disabled,
                r.stale_snapshot_id,
                r.stale_announced,
                r.overdue_seconds,
                r.overdue_disabled,
            )
            for r in rows
        }

    async def _row(self, binding_id: int, backup_id: int) -> BackupStaleness:
        row = await self.session.get(BackupStaleness, (binding_id, backup_id))
        if row is None:
            row = BackupStaleness(
                binding_id=binding_id,
                backup_id=backup_id,
                disabled=False,
                stale_announced=False,
                overdue_disabled=False,
            )
            self.session.add(row)
        return row

    async def set_limit(
        self, binding_id: int, backup_id: int, limit_seconds: int | None, *, disabled: bool
    ) -> None:
        """`alerts stale`: a fixed limit, `auto` (None), or off; turning it off ends an episode."""
        row = await self._row(binding_id, backup_id)
        row.limit_seconds = None if disabled else limit_seconds
        row.disabled = disabled
        if disabled:
            row.stale_snapshot_id = None
            row.stale_announced = False
        await self.session.flush()

    async def set_overdue(
        self, binding_id: int, backup_id: int, limit_seconds: int | None, *, disabled: bool
    ) -> None:
        """`alerts overdue`: a fixed limit, `auto` (None), or off."""
        row = await self._row(binding_id, backup_id)
        row.overdue_seconds = None if disabled else limit_seconds
        row.overdue_disabled = disabled
        await self.session.flush()

    async def open_episode(self, binding_id: int, backup_id: int, last_good_id: int) -> None:
        """Recorded before the stale alert is posted, so the alert is retried, never forgotten."""
        row = await self._row(binding_id, backup_id)
        if row.stale_snapshot_id is None:
            row.stale_snapshot_id = last_good_id
            row.stale_announced = False
        await self.session.flush()

    async def announced(self, binding_id: int, backup_id: int) -> None:
        row = await self.session.get(BackupStaleness, (binding_id, backup_id))
        if row is not None:
            row.stale_announced = True

    async def close_episode(self, binding_id: int, backup_id: int) -> None:
        """The "fresh again" reply is out (or nothing is left to say): no open episode."""
        row = await self.session.get(BackupStaleness, (binding_id, backup_id))
        if row is not None:
            row.stale_snapshot_id = None
            row.stale_announced = False
