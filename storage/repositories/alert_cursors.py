"""Alert cursors: how far each (workspace, backup) has been scanned for failures.

A cursor is read as a `CursorRecord` (`storage.records`), never handed out as an entity.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertCursor, Binding
from storage.records import CursorRecord
from storage.repositories import _leases
from storage.repositories._sql import columns_of, conflict_insert, read_records
from storage.types import UTCDateTime


@dataclass(frozen=True)
class RunGoing:
    """A run the overdue check saw going, with what its cursor knows of the backup."""

    workspace_id: int
    backup_id: int
    backup_name: str | None
    snapshot_id: int
    since: datetime
    usual_seconds: float | None


@dataclass(frozen=True)
class ListedBackup:
    """A backup as a workspace's listing shows it, for `AlertCursorRepository.ensure_many`."""

    backup_id: int
    name: str | None
    scheduled: bool | None = None


@dataclass(frozen=True)
class CursorAdvance:
    """A successful scan of one cursor, as `AlertCursorRepository.advance_many` stores it."""

    workspace_id: int
    backup_id: int
    owner: str
    cursor: datetime
    next_scan_at: datetime


_COLUMNS = columns_of(CursorRecord, AlertCursor)


_CURSORS = cast(Table, AlertCursor.__table__)
_ADVANCE_MANY = (
    update(_CURSORS)
    .where(
        _CURSORS.c.workspace_id == bindparam("w"),
        _CURSORS.c.backup_id == bindparam("b"),
        _CURSORS.c.lease_owner == bindparam("o"),
    )
    .values(
        cursor=case(
            (
                _CURSORS.c.cursor < bindparam("c", type_=UTCDateTime()),
                bindparam("c", type_=UTCDateTime()),
            ),
            else_=_CURSORS.c.cursor,
        ),
        next_scan_at=bindparam("n", type_=UTCDateTime()),
        error_count=0,
        lease_owner=None,
        lease_until=None,
    )
)
"""`AlertCursorRepository.advance_many`'s statement, executed once for every row (executemany)."""


class AlertCursorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: int, backup_id: int) -> CursorRecord | None:
        found = await self._read(
            select(*_COLUMNS).where(
                AlertCursor.workspace_id == workspace_id, AlertCursor.backup_id == backup_id
            )
        )
        return found[0] if found else None

    async def _read(self, statement: Select[Any]) -> list[CursorRecord]:
        return await read_records(self.session, CursorRecord, statement)

    async def ensure(
        self,
        workspace_id: int,
        backup_id: int,
        backup_name: str | None,
        since: datetime,
        scheduled: bool | None = None,
    ) -> CursorRecord:
        """`ensure_many` of one backup, and its cursor."""
        await self.ensure_many(
            workspace_id, [ListedBackup(backup_id, backup_name, scheduled)], since
        )
        cursor = await self.get(workspace_id, backup_id)
        assert cursor is not None  # inserted by ensure_many or already there
        return cursor

    async def ensure_many(
        self, workspace_id: int, backups: Sequence[ListedBackup], since: datetime
    ) -> None:
        """Creates the cursors of listed backups that have none, at `since` and due at once;
        an existing cursor keeps its position and takes the listing's name and schedule.

        Moving an existing cursor either way would be wrong: backwards re-scans what was
        announced, forwards skips failures other channels of the workspace still await. A
        listing that changes nothing costs one read (discovery re-lists every workspace often).
        """
        known = {
            backup_id: (name, scheduled)
            for backup_id, name, scheduled in await self.session.execute(
                select(AlertCursor.backup_id, AlertCursor.backup_name, AlertCursor.scheduled).where(
                    AlertCursor.workspace_id == workspace_id
                )
            )
        }
        new = [b for b in backups if b.backup_id not in known]
        if new:
            await self.session.execute(
                conflict_insert(self.session, _CURSORS).on_conflict_do_nothing(
                    index_elements=["workspace_id", "backup_id"]
                ),
                [
                    dict(
                        workspace_id=workspace_id,
                        backup_id=b.backup_id,
                        backup_name=b.name,
                        cursor=since,
                        next_scan_at=since,
                        error_count=0,
                        scheduled=b.scheduled,
                    )
                    for b in new
                ],
            )
        for backup in backups:
            name, scheduled = known.get(backup.backup_id, (backup.name, backup.scheduled))
            values: dict[str, object] = {}
            if backup.name is not None and backup.name != name:
                values["backup_name"] = backup.name
            if backup.scheduled is not None and backup.scheduled != scheduled:
                values["scheduled"] = backup.scheduled
            if values:
                await self.session.execute(
                    update(AlertCursor)
                    .where(
                        AlertCursor.workspace_id == workspace_id,
                        AlertCursor.backup_id == backup.backup_id,
                    )
                    .values(**values)
                )

    async def list_for_workspace(self, workspace_id: int) -> list[CursorRecord]:
        return await self._read(
            select(*_COLUMNS)
            .where(AlertCursor.workspace_id == workspace_id)
            .order_by(AlertCursor.backup_id)
        )

    async def backup_names(self, workspace_ids: Collection[int]) -> dict[int, dict[int, str]]:
        """Backup names the scanner learned, by workspace then backup, in one query (App Home
        names the backups of every bound workspace at once)."""
        names: dict[int, dict[int, str]] = {workspace_id: {} for workspace_id in workspace_ids}
        if not workspace_ids:
            return names
        result = await self.session.execute(
            select(AlertCursor.workspace_id, AlertCursor.backup_id, AlertCursor.backup_name).where(
                AlertCursor.workspace_id.in_(sorted(workspace_ids)),
                AlertCursor.backup_name.is_not(None),
            )
        )
        for workspace_id, backup_id, name in result.all():
            names[workspace_id][backup_id] = name or ""
        return names

    async def claim_due(
        self, owner: str, now: datetime, limit: int, lease_seconds: float
    ) -> list[CursorRecord]:
        """Leases cursors whose scan is due to `owner` (see `storage.repositories._leases`)."""
        rows = await _leases.claim_due_columns(
            self.session,
            AlertCursor,
            _COLUMNS,
            due=[AlertCursor.next_scan_at <= now],
            order_by=AlertCursor.next_scan_at,
            owner=owner,
            limit=limit,
            lease_seconds=lease_seconds,
        )
        return [CursorRecord(*row) for row in rows]

    async def advance_many(self, scans: Sequence[CursorAdvance]) -> None:
        """Stores successful scans and releases their leases, a scan round's in one statement.

        A cursor only moves forward: one before the stored cursor leaves it in place. A cursor
        whose lease was lost is left as it is, silently: its new holder scans it again.
        """
        if scans:
            await self.session.execute(
                _ADVANCE_MANY,
                [
                    dict(w=a.workspace_id, b=a.backup_id, o=a.owner, c=a.cursor, n=a.next_scan_at)
                    for a in scans
                ],
            )

    async def record_runs(
        self,
        workspace_id: int,
        backup_id: int,
        *,
        owner: str,
        checked_at: datetime,
        cadence_seconds: float | None,
        last_good: tuple[int, datetime] | None,
        usual_run_seconds: float | None = None,
        last_start_at: datetime | None = None,
    ) -> bool:
        """Stores what a read of the backup's recent runs learned (the stale and overdue
        checks' cache).

        A cadence, last good snapshot, usual duration or latest start the read could not see
        keeps the one known before.
        """
        values: dict[str, object] = {"runs_checked_at": checked_at}
        if usual_run_seconds is not None:
            values["usual_run_seconds"] = usual_run_seconds
        if last_start_at is not None:
            values["last_start_at"] = last_start_at
        if cadence_seconds is not None:
            values["cadence_seconds"] = cadence_seconds
        if last_good is not None:
            values["last_good_snapshot_id"], values["last_good_at"] = last_good
        return await self._write_claimed(workspace_id, backup_id, owner, values)

    async def record_active(
        self,
        workspace_id: int,
        backup_id: int,
        *,
        owner: str,
        asked_at: datetime,
        running: tuple[int, datetime] | None,
    ) -> bool:
        """What `GET .../snapshots/active` said (the overdue check): the run going and since
        when, or None once no run is going and its end (if owed) was told."""
        values: dict[str, object] = {
            "active_checked_at": asked_at,
            "running_snapshot_id": running[0] if running else None,
            "running_since": running[1] if running else None,
        }
        return await self._write_claimed(workspace_id, backup_id, owner, values)

    async def running(self, workspace_id: int) -> dict[int, tuple[int, datetime]]:
        """The workspace's runs the overdue check saw going: (snapshot, since) by backup."""
        result = await self.session.execute(
            select(
                AlertCursor.backup_id, AlertCursor.running_snapshot_id, AlertCursor.running_since
            ).where(
                AlertCursor.workspace_id == workspace_id,
                AlertCursor.running_snapshot_id.is_not(None),
                AlertCursor.running_since.is_not(None),
            )
        )
        return {backup: (run, since) for backup, run, since in result.all() if run and since}

    async def running_in(self, workspace_ids: Collection[int]) -> list[RunGoing]:
        """The runs the overdue check saw going in these workspaces (the App Home), one query."""
        if not workspace_ids:
            return []
        result = await self.session.execute(
            select(
                AlertCursor.workspace_id,
                AlertCursor.backup_id,
                AlertCursor.backup_name,
                AlertCursor.running_snapshot_id,
                AlertCursor.running_since,
                AlertCursor.usual_run_seconds,
            ).where(
                AlertCursor.workspace_id.in_(sorted(workspace_ids)),
                AlertCursor.running_snapshot_id.is_not(None),
                AlertCursor.running_since.is_not(None),
            )
        )
        return [
            RunGoing(workspace, backup, name, run, since, usual)
            for workspace, backup, name, run, since, usual in result.all()
            if run and since
        ]

    async def forget_runs(self, workspace_id: int, backup_id: int) -> None:
        """Makes the next scan read the backup's runs again (a channel just changed its limit)."""
        await self.session.execute(
            update(AlertCursor)
            .where(AlertCursor.workspace_id == workspace_id, AlertCursor.backup_id == backup_id)
            .values(runs_checked_at=None)
        )

    async def record_error(
        self, workspace_id: int, backup_id: int, *, owner: str, next_scan_at: datetime
    ) -> int | None:
        """Counts a failed scan, schedules the retry, releases the lease.

        Returns the new error count (for backoff), or None if the lease was lost.
        """
        result = await self.session.execute(
            update(AlertCursor)
            .where(*self._claimed(workspace_id, backup_id, owner))
            .values(
                error_count=AlertCursor.error_count + 1,
                next_scan_at=next_scan_at,
                lease_owner=None,
                lease_until=None,
            )
            .returning(AlertCursor.error_count)
        )
        return result.scalar_one_or_none()

    async def release(self, workspace_id: int, backup_id: int, owner: str) -> bool:
        return await self._write_claimed(
            workspace_id, backup_id, owner, {"lease_owner": None, "lease_until": None}
        )

    async def delete_uncovered(self) -> int:
        """Deletes cursors of workspaces no channel listens to any more (alerts off, paused,
        unbound), so a later binding starts from its own bind time instead of a stale cursor."""
        listening = exists().where(
            Binding.workspace_id == AlertCursor.workspace_id,
            Binding.alerts_enabled.is_(True),
            Binding.paused_at.is_(None),
        )
        result = await self.session.execute(
            delete(AlertCursor).where(~listening).returning(AlertCursor.backup_id)
        )
        return len(result.all())

    async def retain_backups(self, workspace_id: int, backup_ids: Collection[int]) -> int:
        """Deletes the workspace's cursors of backups not in `backup_ids` (deleted backups).

        An empty `backup_ids` deletes nothing: "keep none" is never what a caller means, and
        deleting every cursor on one empty answer from Skyvia would lose the failures that end
        before the cursors are made again.
        """
        if not backup_ids:
            return 0
        result = await self.session.execute(
            delete(AlertCursor)
            .where(
                AlertCursor.workspace_id == workspace_id,
                AlertCursor.backup_id.not_in(list(backup_ids)),
            )
            .returning(AlertCursor.backup_id)
        )
        return len(result.all())

    async def delete_claimed(self, workspace_id: int, backup_id: int, owner: str) -> bool:
        """Drops a cursor we hold, e.g. when Skyvia says its backup no longer exists."""
        result = await self.session.execute(
            delete(AlertCursor)
            .where(*self._claimed(workspace_id, backup_id, owner))
            .returning(AlertCursor.backup_id)
        )
        return result.first() is not None

    async def start_listing(
        self, workspace_id: int, *, now: datetime, listed_before: datetime
    ) -> bool:
        """Takes the turn to re-list a workspace's backups: True for exactly one caller.

        Stamps `last_listed_at = now` on the workspace's cursors if none was listed since
        `listed_before`; a replica racing for the same workspace finds them stamped and gets
        False. A workspace without cursors yet is always due (True), since `ensure` is idempotent.
        """
        has_any = await self.session.scalar(
            select(AlertCursor.backup_id).where(AlertCursor.workspace_id == workspace_id).limit(1)
        )
        if has_any is None:
            return True
        result = await self.session.execute(
            update(AlertCursor)
            .where(
                AlertCursor.workspace_id == workspace_id,
                or_(
                    AlertCursor.last_listed_at.is_(None),
                    AlertCursor.last_listed_at < listed_before,
                ),
            )
            .values(last_listed_at=now)
            .returning(AlertCursor.backup_id)
        )
        return result.first() is not None

    async def oldest_cursor(self) -> datetime | None:
        """The earliest cursor of all, or None without cursors.

        No scan asks for failures that started before it minus the lookback, so what was sent
        about failures before that is never re-read (retention of the ledger's alert rows).
        """
        return await self.session.scalar(select(func.min(AlertCursor.cursor)))

    async def workspaces(self) -> set[int]:
        """Workspaces that have at least one cursor."""
        result = await self.session.scalars(select(AlertCursor.workspace_id).distinct())
        return set(result.all())

    def _claimed(self, workspace_id: int, backup_id: int, owner: str) -> list[ColumnElement[bool]]:
        return [
            AlertCursor.workspace_id == workspace_id,
            AlertCursor.backup_id == backup_id,
            _leases.held_by(AlertCursor, owner),
        ]

    async def _write_claimed(
        self, workspace_id: int, backup_id: int, owner: str, values: dict[str, object]
    ) -> bool:
        result = await self.session.execute(
            update(AlertCursor)
            .where(*self._claimed(workspace_id, backup_id, owner))
            .values(**values)
            .returning(AlertCursor.backup_id)
        )
        return result.first() is not None
