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

from storage.models import AlertEpisode, Binding, PastEpisode
from storage.repositories._sql import columns_of, copy_of, delete_batch


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

_EPISODE_COLUMNS = columns_of(Episode, AlertEpisode)
_PAST_COLUMNS = columns_of(Episode, PastEpisode)

AlertKey = tuple[str, int]
"""An episode's alert as the ledger names it: its channel and its first failed snapshot."""


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
        episodes = (Episode(*row) for row in rows)  # positional: see `columns_of`
        return {(e.binding_id, e.backup_id): e for e in episodes}

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
                await self._keep(row, row.closed_at or ended)  # its recovery may be unsaid yet
                _open(row, snapshot_id, ended)
            elif row.last_snapshot_id != snapshot_id and ended >= row.last_failed_at:
                row.failures += 1
                row.last_snapshot_id = snapshot_id
                row.last_failed_at = ended
            result[binding_id] = copy_of(Episode, row)
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
            result[row.binding_id] = copy_of(Episode, row)
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
        """The recovery was announced: the episode is over, and kept as it ended (the row is
        reused by the backup's next episode)."""
        row = await self.session.get(AlertEpisode, (binding_id, backup_id))
        if row is not None and row.closed_at is None:
            row.closed_at = at
            if row.recovered_at is not None:
                await self._keep(row, at)

    async def _keep(self, row: AlertEpisode, closed_at: datetime) -> None:
        """Keeps the episode as it ended, once, before its row is closed or reused."""
        kept = await self.session.scalar(
            select(PastEpisode.id).where(
                PastEpisode.binding_id == row.binding_id,
                PastEpisode.backup_id == row.backup_id,
                PastEpisode.first_snapshot_id == row.first_snapshot_id,
            )
        )
        if kept is None:
            fields = {name: getattr(row, name) for name in _EPISODE_FIELDS}
            self.session.add(PastEpisode(closed_at=closed_at, **fields))

    async def of_alerts(
        self, team_id: str, alerts: Collection[AlertKey]
    ) -> dict[AlertKey, Episode]:
        """The episodes these alerts opened in the team's bound channels, as they are now (open,
        or over); an alert whose episode is not known (an earlier binding's) is left out.

        Two queries, however many alerts (the App Home's recent failures)."""
        if not alerts:
            return {}
        channels = sorted({channel for channel, _ in alerts})
        snapshots = sorted({snapshot for _, snapshot in alerts})
        found: dict[AlertKey, Episode] = {}
        for model, columns in ((PastEpisode, _PAST_COLUMNS), (AlertEpisode, _EPISODE_COLUMNS)):
            rows = await self.session.execute(
                select(Binding.channel_id, *columns)
                .join(Binding, Binding.id == model.binding_id)
                .where(
                    Binding.team_id == team_id,
                    Binding.channel_id.in_(channels),
                    model.first_snapshot_id.in_(snapshots),
                )
            )
            for row in rows:
                fields = row._asdict()
                key = (fields.pop("channel_id"), row.first_snapshot_id)
                if key in alerts:
                    found[key] = Episode(**fields)  # the live row, read last, wins
        return found

    async def prune_past(self, closed_before: datetime, limit: int = 1000) -> int:
        """Deletes up to `limit` episodes that ended before `closed_before`; returns how many."""
        return await delete_batch(
            self.session,
            PastEpisode,
            [PastEpisode.closed_at < closed_before],
            limit,
            oldest_first=PastEpisode.closed_at,
        )


def _open(row: AlertEpisode, snapshot_id: int, ended: datetime) -> None:
    row.first_snapshot_id = snapshot_id
    row.failures = 1
    row.since = ended
    row.last_snapshot_id = snapshot_id
    row.last_failed_at = ended
    row.recovered_snapshot_id = None
    row.recovered_at = None
    row.closed_at = None
