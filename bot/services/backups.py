"""Reading a workspace's backups: pages of them, one in detail, its snapshots and their logs.

Every method takes the `BoundWorkspace` of the channel the request came from, so the workspace
and token are always the channel's own; ids from the user or a button only choose *within* it.
Nothing here changes anything, so nothing here writes the audit log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cachetools import TTLCache

from bot.services.backup_names import Ambiguous, cache_key, match, normalised
from bot.services.bindings import BoundWorkspace
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import ActiveRun, Backup, Page, Snapshot

PAGE_SIZE = 10
"""Items per page of backups and of snapshots (docs/reference/commands.md#the-skyvia-command)."""
RECENT_SNAPSHOTS = 5
"""Finished snapshots shown in a backup's details."""
_ONE_TICK = timedelta(milliseconds=1)
LIST_TTL_SECONDS = 60.0
"""How long a workspace's backup list serves name look-ups before Skyvia is asked again."""
LIST_CACHE_SIZE = 512


@dataclass(frozen=True)
class BackupDetails:
    backup: Backup
    schedule_active: bool
    active_run: ActiveRun | None
    last_snapshots: list[Snapshot]


@dataclass(frozen=True)
class BackupRow:
    backup: Backup
    last_run: Snapshot | None
    """The newest snapshot Skyvia lists for it; None when it never ran or was not read."""
    known: bool = True
    """False when Skyvia could not say (the row is shown without its last run)."""


@dataclass(frozen=True)
class BackupsListing:
    """One page of the backups list: its rows, and where the page sits in the whole list."""

    rows: list[BackupRow]
    page: int
    pages: int
    total: int
    text: str | None = None
    asked: int | None = None
    """The page typed when it was past the end (the last page is shown instead)."""

    @property
    def has_more(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True)
class SnapshotQuery:
    """Filters of a snapshots listing; `since` is inclusive and `until` exclusive."""

    failed: bool = False
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class SnapshotsPage:
    backup: Backup
    snapshots: list[Snapshot] = field(default_factory=list)
    has_more: bool = False
    page: int = 1
    asked: int | None = None
    """The page typed when it was past the end (the first page is shown instead)."""
    pages: int | None = None
    """How many pages there are, when known (only when the first page is all of them)."""


@dataclass(frozen=True)
class SnapshotLog:
    backup: Backup
    snapshot: Snapshot


def failure_detail(error: SkyviaError) -> str:
    """An audit detail for a failed call: class and status, never text that could echo input."""
    status = f" {error.status}" if error.status is not None else ""
    return f"{type(error).__name__}{status} (workspace {error.workspace_id})"


def skip_for(page: int, page_size: int = PAGE_SIZE) -> int:
    """Skyvia pages by `skip`/`take`; pages are numbered from 1 for people."""
    if page < 1:
        raise ValueError(f"pages start at 1, got {page}")
    return (page - 1) * page_size


class BackupService:
    def __init__(self, *, skyvia: SkyviaClient, page_size: int = PAGE_SIZE) -> None:
        self._skyvia = skyvia
        self._page_size = page_size
        self._lists: TTLCache[tuple[int, str], list[Backup]] = TTLCache(
            maxsize=LIST_CACHE_SIZE, ttl=LIST_TTL_SECONDS
        )

    async def resolve(
        self, bound: BoundWorkspace, ref: int | str, *, whole_name: bool = False
    ) -> int | Ambiguous:
        """A backup id for what the user typed: an id as is, a name through the cached list.

        `whole_name`: a backup found only by part of its name comes back as a choice of one,
        to be named back and confirmed (starting a snapshot of "sales" must not guess).
        Raises `NoBackupMatches` (with the closest names) when no name matches.
        """
        if isinstance(ref, int):
            return ref
        found = match(await self._all(bound), ref)
        if isinstance(found, Ambiguous):
            return found
        if whole_name and normalised(found.name or "") != normalised(ref):
            return Ambiguous(typed=ref, candidates=[found])
        return found.id

    async def _all(self, bound: BoundWorkspace) -> list[Backup]:
        key = cache_key(bound.workspace_id, bound.token)
        cached = self._lists.get(key)
        if cached is None:
            iterator = self._skyvia.iter_backups(bound.token, bound.workspace_id)
            cached = self._lists[key] = [backup async for backup in iterator]
        return cached

    def cached_names(self, bound: BoundWorkspace) -> dict[int, str]:
        """Backup id -> name from the list kept for name look-ups, if it is kept right now:
        for screens that hold backups by id and promise no Skyvia call (status, repeats)."""
        cached = self._lists.get(cache_key(bound.workspace_id, bound.token)) or []
        return {b.id: b.name for b in cached if b.name}

    def note_schedule(self, bound: BoundWorkspace, backup_id: int, active: bool) -> None:
        """Writes a schedule switched from here into the cached list, so the redrawn list
        shows it without asking Skyvia for the list again."""
        key = cache_key(bound.workspace_id, bound.token)
        cached = self._lists.get(key)
        if cached is not None:
            self._lists[key] = [
                b.model_copy(update={"scheduled": active}) if b.id == backup_id else b
                for b in cached
            ]

    async def page(
        self, bound: BoundWorkspace, page: int, text: str | None = None
    ) -> BackupsListing:
        """A page of the (cached) list, only names holding `text` if given, with each row's
        last run.

        Skyvia's backup listing carries no last run, so each row costs one snapshot listing
        (`take=1`): at most a page's worth, asked at once; the list itself is the cached one
        that name look-ups use (one listing call per 200 backups, at most once a minute).
        """
        backups = await self._all(bound)
        if text:
            wanted = normalised(text)
            backups = [b for b in backups if wanted in normalised(b.display_name)]
        pages = max(1, -(-len(backups) // self._page_size))
        asked, page = page, min(page, pages)  # past the end: the last page, saying so
        skip = skip_for(page, self._page_size)
        shown = backups[skip : skip + self._page_size]
        last_runs = await asyncio.gather(*(self._last_run(bound, b.id) for b in shown))
        return BackupsListing(
            rows=[BackupRow(b, *run) for b, run in zip(shown, last_runs, strict=True)],
            page=page,
            pages=pages,
            total=len(backups),
            text=text,
            asked=asked if asked != page else None,
        )

    async def _last_run(
        self, bound: BoundWorkspace, backup_id: int
    ) -> tuple[Snapshot | None, bool]:
        """A row without its last run beats no list: a failed read shows as "not known"."""
        try:
            found = await self._skyvia.list_snapshots(
                bound.token,
                bound.workspace_id,
                backup_id,
                take=1,
                sort_order="desc",
                sort_by="startTime",
            )
        except SkyviaError:
            return None, False
        return (found.data[0] if found.data else None), True

    async def details(self, bound: BoundWorkspace, backup_id: int) -> BackupDetails:
        """The backup first (an unknown id fails cleanly as "not found"), then the rest at once."""
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        schedule, active, recent = await asyncio.gather(
            self._skyvia.get_schedule(bound.token, bound.workspace_id, backup_id),
            self._skyvia.get_active_snapshot(bound.token, bound.workspace_id, backup_id),
            self._skyvia.list_snapshots(
                bound.token,
                bound.workspace_id,
                backup_id,
                take=RECENT_SNAPSHOTS,
                sort_order="desc",
                sort_by="startTime",
            ),
        )
        return BackupDetails(
            backup=backup,
            schedule_active=schedule.active,
            active_run=active,
            last_snapshots=list(recent.data),
        )

    async def snapshots(
        self, bound: BoundWorkspace, backup_id: int, page: int, query: SnapshotQuery
    ) -> SnapshotsPage:
        """Finished snapshots, newest first; Skyvia's `endDate` is inclusive, ours is not.

        A page past the end costs one more listing, of the first page, which is shown instead
        with a word on why (Skyvia's listing has no total, so that is all that is known).
        """
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        found = await self._snapshot_page(bound, backup_id, page, query)
        if found.data or page == 1:
            return SnapshotsPage(backup, list(found.data), found.has_more, page)
        first = await self._snapshot_page(bound, backup_id, 1, query)
        pages = None if first.has_more else 1
        return SnapshotsPage(backup, list(first.data), first.has_more, 1, page, pages)

    async def _snapshot_page(
        self, bound: BoundWorkspace, backup_id: int, page: int, query: SnapshotQuery
    ) -> Page[Snapshot]:
        return await self._skyvia.list_snapshots(
            bound.token,
            bound.workspace_id,
            backup_id,
            failed=True if query.failed else None,
            start_date=query.since,
            end_date=query.until - _ONE_TICK if query.until is not None else None,
            take=self._page_size,
            skip=skip_for(page, self._page_size),
            sort_order="desc",
            sort_by="startTime",
        )

    async def snapshot_log(
        self, bound: BoundWorkspace, backup_id: int, snapshot_id: int
    ) -> SnapshotLog:
        backup, snapshot = await asyncio.gather(
            self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id),
            self._skyvia.get_snapshot(bound.token, bound.workspace_id, backup_id, snapshot_id),
        )
        return SnapshotLog(backup=backup, snapshot=snapshot)
