"""Failure episodes: a backup's failing streak per channel (binding), see `AlertEpisode`.

Only the alert scanner that holds a backup's cursor lease writes that backup's episodes, so a
read-then-write in one transaction is enough; every write is idempotent, because a scan that
did not finish is re-read by the next one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertEpisode


@dataclass(frozen=True)
class Episode:
    """A plain copy of an episode row (what the services and messages see)."""

    binding_id: int
    backup_id: int
    first_snapshot_id: int
    failures: int
    since: datetime
    last_snapshot_id: int
    last_failed_at: datetime
    recovered_snapshot_id: int | None = None
    recovered_at: datetime | None = None

    @property
    def failing_for(self) -> float | None:
        """Seconds from its first failure to the success that closed it (None while open)."""
        return (
            None if self.recovered_at is None else (self.recovered_at - self.since).total_seconds()
        )

    @property
    def recovering(self) -> bool:
        """A success closed it; the recovery note may still be on its way."""
        return self.recovered_snapshot_id is not None


_EPISODE_FIELDS = tuple(Episode.__dataclass_fields__)
"""What an `Episode` copies of a row: its fields are named as the columns are."""

_EPISODE_COLUMNS = tuple(getattr(AlertEpisode, name) for name in _EPISODE_FIELDS)


def _plain(row: AlertEpisode) -> Episode:
    return Episode(**{name: getattr(row, name) for name in _EPISODE_FIELDS})


class EpisodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_for(self, binding_ids: Collection[int]) -> dict[tuple[int, int], Episode]:
        """The open episodes of these bindings, by (binding, backup)."""
        if not binding_ids:
            return {}
        # Plain columns, not ORM objects: a scan round reads every open episode of the batch's
        # workspaces, and building and tracking an entity per row cost more than the query.
        rows = await self.session.execute(
            select(*_EPISODE_COLUMNS).where(
                AlertEpisode.binding_id.in_(list(binding_ids)), AlertEpisode.closed_at.is_(None)
            )
        )
        return {(row.binding_id, row.backup_id): Episode(**row._asdict()) for row in rows}

    async def record_failure(
        self, binding_ids: Collection[int], backup_id: int, snapshot_id: int, ended: datetime
    ) -> dict[int, Episode]:
        """Counts one failure in each binding's episode of the backup, opening one if none is.

        A failure that ended no later than the last one counted (a re-read) changes nothing;
        one after a recovery opens a new episode whose first failure it is. A binding left out
        of the answer has nothing to be told (a failure of an episode that is over).
        """
        if not binding_ids:
            return {}
        rows = await self.session.scalars(
            select(AlertEpisode)
            .where(
                AlertEpisode.binding_id.in_(list(binding_ids)),
                AlertEpisode.backup_id == backup_id,
            )
            .execution_options(populate_existing=True)
        )
        existing = {row.binding_id: row for row in rows}
        result: dict[int, Episode] = {}
        for binding_id in binding_ids:
            row = existing.get(binding_id)
            if row is not None and row.closed_at is not None and ended <= row.last_failed_at:
                continue  # an old failure read again after its episode ended: nothing to say
            if row is None:
                row = AlertEpisode(binding_id=binding_id, backup_id=backup_id)
                self.session.add(row)
                _open(row, snapshot_id, ended)
            elif row.closed_at is not None or (
                row.recovered_at is not None and ended > row.recovered_at
            ):
                _open(row, snapshot_id, ended)
            elif row.last_snapshot_id != snapshot_id and ended >= row.last_failed_at:
                row.failures += 1
                row.last_snapshot_id = snapshot_id
                row.last_failed_at = ended
            result[binding_id] = _plain(row)
        await self.session.flush()
        return result

    async def restart(
        self, binding_ids: Collection[int], backup_id: int, snapshot_id: int
    ) -> dict[int, Episode]:
        """Makes `snapshot_id` the episode's alert (its first alert will never go out); the
        streak so far is kept."""
        rows = await self.session.scalars(
            select(AlertEpisode)
            .where(
                AlertEpisode.binding_id.in_(list(binding_ids)),
                AlertEpisode.backup_id == backup_id,
                AlertEpisode.closed_at.is_(None),
            )
            .execution_options(populate_existing=True)
        )
        result: dict[int, Episode] = {}
        for row in rows:
            row.first_snapshot_id = snapshot_id
            result[row.binding_id] = _plain(row)
        await self.session.flush()
        return result

    async def mark_recovered(
        self, binding_id: int, backup_id: int, snapshot_id: int, at: datetime
    ) -> None:
        """Records the success that ends the episode, before its note is announced."""
        row = await self.session.get(AlertEpisode, (binding_id, backup_id))
        if row is not None and row.closed_at is None and row.recovered_snapshot_id is None:
            row.recovered_snapshot_id = snapshot_id
            row.recovered_at = at

    async def close(self, binding_id: int, backup_id: int, at: datetime) -> None:
        """The recovery was announced: the episode is over."""
        row = await self.session.get(AlertEpisode, (binding_id, backup_id))
        if row is not None and row.closed_at is None:
            row.closed_at = at


def _open(row: AlertEpisode, snapshot_id: int, ended: datetime) -> None:
    row.first_snapshot_id = snapshot_id
    row.failures = 1
    row.since = ended
    row.last_snapshot_id = snapshot_id
    row.last_failed_at = ended
    row.recovered_snapshot_id = None
    row.recovered_at = None
    row.closed_at = None
