"""Which backups alerting scans: one failure cursor per backup of every listened-to workspace.

Each round compares the workspaces of alert-enabled bindings with those that have cursors,
lists the backups of a new one at once, and re-lists every workspace once per `relist_period` so
new backups get cursors and deleted ones lose theirs (once two listings in a row miss them: see
`_drop_deleted`). A new cursor starts when its listeners started listening (`connect`, `alerts
on`), at most `NEW_CURSOR_REACH` before the listing: a failure that ended between `connect` and
the first listing is announced, and no older history is. Cursors of workspaces nobody listens
to any more are deleted. A replica lists a workspace only if no other did recently
(`start_listing`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from bot.services.alerting.token_checks import TokenChecks
from bot.services.backoff import WorkspaceBackoff
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaError, SkyviaRateLimited
from storage.db import Database
from storage.records import BindingRecord
from storage.repositories import AlertCursorRepository, BindingRepository
from storage.repositories.alert_cursors import ListedBackup

log = logging.getLogger(__name__)

NEW_CURSOR_REACH = timedelta(minutes=10)
"""How far before its listing a new cursor may start (the lag of discovery after `connect`)."""


class BackupDiscovery:
    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        tokens: TokenChecks,
        backoff: WorkspaceBackoff,
        relist_period: timedelta,
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._tokens = tokens
        self._backoff = backoff
        self._relist_period = relist_period
        self._last_relist: datetime | None = None
        self._listed_at: dict[int, datetime] = {}
        self._missing: dict[int, set[int]] = {}
        """Per workspace: backups with a cursor that the last listing did not include."""

    async def run(self, now: datetime) -> None:
        """Creates cursors for new workspaces now, and re-lists all of them now and then."""
        async with self._db.session() as session:
            alerting = list(await BindingRepository(session).list_alerting())
            known = await AlertCursorRepository(session).workspaces()
        by_workspace: dict[int, list[BindingRecord]] = defaultdict(list)
        for binding in alerting:
            by_workspace[binding.workspace_id].append(binding)
        await self._discover(by_workspace, known, now)

    async def _discover(
        self, by_workspace: dict[int, list[BindingRecord]], known: set[int], now: datetime
    ) -> None:
        relist = self._last_relist is None or now - self._last_relist >= self._relist_period
        if relist:
            self._last_relist = now
            async with self._db.session() as session:
                dropped = await AlertCursorRepository(session).delete_uncovered()
            if dropped:
                log.info("dropped %d alert cursors nobody listens to", dropped)
        period = self._relist_period
        targets = [
            ws
            for ws in by_workspace
            if relist
            or (
                ws not in known
                and (ws not in self._listed_at or now - self._listed_at[ws] >= period)
            )
        ]
        for workspace_id in targets:
            try:
                await self._list_backups(workspace_id, by_workspace[workspace_id], now)
            except Exception:
                log.exception("listing the backups of workspace %s failed", workspace_id)

    async def _list_backups(
        self, workspace_id: int, listeners: list[BindingRecord], now: datetime
    ) -> None:
        if self._backoff.remaining(workspace_id) > 0:
            return
        self._listed_at[workspace_id] = now
        async with self._db.session() as session:
            mine = await AlertCursorRepository(session).start_listing(
                workspace_id, now=now, listed_before=now - self._relist_period * 0.9
            )
        if not mine:
            return  # another replica listed it recently
        for binding in listeners:
            token = await self._tokens.usable_token(binding, now)
            if token is None:
                continue
            try:
                backups = [b async for b in self._skyvia.iter_backups(token, workspace_id)]
            except SkyviaAuthError:
                await self._tokens.report_rejected(binding, now)
                continue
            except SkyviaError as exc:
                retry_after = exc.retry_after if isinstance(exc, SkyviaRateLimited) else None
                self._backoff.failed(workspace_id, retry_after)
                log.warning("listing backups of workspace %s: %s", workspace_id, exc)
                return
            self._backoff.succeeded(workspace_id)
            since = _new_cursor_since(listeners, now)
            async with self._db.session() as session:
                cursors = AlertCursorRepository(session)
                listed = [ListedBackup(b.id, b.display_name, b.scheduled) for b in backups]
                await cursors.ensure_many(workspace_id, listed, since)
                removed = await self._drop_deleted(cursors, workspace_id, {b.id for b in backups})
                # Stamp the new cursors too, so the next relist waits a full period.
                await cursors.start_listing(workspace_id, now=now, listed_before=now)
            log.info(
                "workspace %s: %d backups scanned for failures (%d cursors removed)",
                workspace_id,
                len(backups),
                removed,
            )
            return

    async def _drop_deleted(
        self, cursors: AlertCursorRepository, workspace_id: int, listed: set[int]
    ) -> int:
        """Deletes the cursors of backups missing from this listing and the one before.

        A deleted cursor is re-created at "now" when its backup shows up again, and whatever
        failed in between is lost; so one answer is never enough. An empty listing deletes
        nothing at all (a workspace whose last backup was deleted loses that cursor when Skyvia
        answers 404 for its failures), and a backup missing once is kept until the next listing
        (made by this process) confirms it.
        """
        if not listed:
            return 0
        known = {c.backup_id for c in await cursors.list_for_workspace(workspace_id)}
        missing = known - listed
        confirmed = missing & self._missing.get(workspace_id, set())
        self._missing[workspace_id] = missing - confirmed
        return await cursors.retain_backups(workspace_id, known - confirmed)


def _new_cursor_since(listeners: list[BindingRecord], now: datetime) -> datetime:
    """Where a new cursor starts: when its earliest listener started listening, so a failure
    that ended between `connect` (or `alerts on`) and this listing is not lost, but never
    further back than `NEW_CURSOR_REACH` (a re-created cursor must not replay history)."""
    earliest = min((b.alerts_since for b in listeners), default=now)
    return min(now, max(earliest, now - NEW_CURSOR_REACH))
