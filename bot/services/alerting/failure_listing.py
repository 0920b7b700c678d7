"""One failure scan's Skyvia call, and who hears what it finds (see
`bot.services.alerting.scanner`).

A cursor is shared by every channel bound to its workspace, so any of their tokens may list it:
the first that has one is used, and if Skyvia rejects it that channel is told and paused
(`bot.services.alerting.token_checks`) and the next scan tries another's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.services.alerting.token_checks import TokenChecks
from bot.services.backoff import WorkspaceBackoff
from bot.skyvia.client import MAX_TAKE, SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaError, SkyviaNotFound, SkyviaRateLimited
from bot.skyvia.models import Snapshot
from storage.records import BindingRecord, CursorRecord
from storage.repositories import AUTO, Episode, StaleSetting

log = logging.getLogger(__name__)


def ended_at(snapshot: Snapshot) -> datetime | None:
    return snapshot.end_time or snapshot.start_time or snapshot.queue_time


@dataclass
class Listeners:
    """The alert-enabled bindings of one workspace and their muted backups."""

    bindings: list[BindingRecord]
    muted: dict[int, set[int]]
    unmuted: dict[tuple[int, int], datetime] = field(default_factory=dict)
    """(binding, backup) -> when it was last unmuted: what ended before stays unannounced."""

    episodes: dict[tuple[int, int], Episode] = field(default_factory=dict)
    """The open failure episodes of these bindings, by (binding, backup)."""

    stale: dict[tuple[int, int], StaleSetting] = field(default_factory=dict)
    """The stale limits and episodes of these bindings, by (binding, backup); missing: auto."""

    _by_backup: dict[int, dict[int, Episode]] | None = field(default=None, repr=False)

    def stale_setting(self, binding_id: int, backup_id: int) -> StaleSetting:
        return self.stale.get((binding_id, backup_id), AUTO)

    def open_episodes(self, backup_id: int) -> dict[int, Episode]:
        """The open episodes of one backup, by binding id.

        Indexed by backup on first use: a scan asks once per backup, and walking every episode
        of the workspace each time cost a quadratic share of the alert benchmark's CPU.
        """
        if self._by_backup is None:
            self._by_backup = {}
            for (binding_id, backup), episode in self.episodes.items():
                self._by_backup.setdefault(backup, {})[binding_id] = episode
        return dict(self._by_backup.get(backup_id, {}))  # the caller may add to its copy

    def hear(self, binding: BindingRecord, backup_id: int, ended: datetime | None) -> bool:
        if backup_id in self.muted.get(binding.id, set()):
            return False
        unmuted_at = self.unmuted.get((binding.id, backup_id))
        since = (
            binding.alerts_since if unmuted_at is None else max(binding.alerts_since, unmuted_at)
        )
        return ended is None or ended >= since


@dataclass(frozen=True)
class Listed:
    """What a scan's calls found: the failures, or why there are none."""

    snapshots: list[Snapshot] | None = None
    """Every failure in the lookback, newest first; None when Skyvia gave no answer."""
    token: str = ""
    gone: bool = False
    """The backup no longer exists: its cursor goes."""
    retry_in: float | None = None
    """Skyvia is overloaded: seconds before this cursor is scanned again."""


class FailureLister:
    def __init__(
        self,
        *,
        skyvia: SkyviaClient,
        tokens: TokenChecks,
        backoff: WorkspaceBackoff,
        lookback: timedelta,
    ) -> None:
        self._skyvia = skyvia
        self._tokens = tokens
        self._backoff = backoff
        self._lookback = lookback

    async def list_failures(
        self,
        cursor: CursorRecord,
        listeners: list[BindingRecord],
        limit: asyncio.Semaphore,
        now: datetime,
        *,
        all_states: bool = False,
    ) -> Listed:
        """The failures that started after `cursor - lookback`, newest first.

        `all_states` lists every finished run instead (the same call, unfiltered): an open
        failure episode waits for a success, and this way seeing it costs no extra call.

        One call when they fit a page (`MAX_TAKE`), as nearly always; more pages otherwise,
        every one of them: the oldest may be a long run that ended after the cursor.
        """
        for binding in listeners:
            token = await self._tokens.usable_token(binding, now)
            if token is None:
                continue
            try:
                found = await self._all_pages(token, cursor, limit, all_states)
            except SkyviaAuthError:
                await self._tokens.report_rejected(binding, now)
                return Listed()
            except SkyviaNotFound:
                log.info(
                    "backup %s of workspace %s is gone; dropping its cursor",
                    cursor.backup_id,
                    cursor.workspace_id,
                )
                return Listed(gone=True)
            except SkyviaError as exc:
                return Listed(retry_in=self._overloaded(cursor, exc))
            return Listed(snapshots=found, token=token)
        return Listed()

    async def _all_pages(
        self, token: str, cursor: CursorRecord, limit: asyncio.Semaphore, all_states: bool
    ) -> list[Snapshot]:
        """Pages through the listing (`limit` held per call), each failure once.

        The lookback bounds how many there are. A run that ends meanwhile shifts later pages
        by one, so a failure may come twice (kept once) but none is skipped; a page that brings
        nothing new ends the walk, so an answer that claims more forever cannot loop it.
        """
        found: dict[int, Snapshot] = {}
        while True:
            async with limit:
                page = await self._skyvia.list_snapshots(
                    token,
                    cursor.workspace_id,
                    cursor.backup_id,
                    failed=None if all_states else True,
                    start_date=cursor.cursor - self._lookback,
                    sort_by="startTime",
                    sort_order="desc",
                    take=MAX_TAKE,
                    skip=len(found),
                )
            before = len(found)
            for snapshot in page.data:
                found.setdefault(snapshot.snapshot_id, snapshot)
            if not page.has_more or len(found) == before:
                return list(found.values())

    def _overloaded(self, cursor: CursorRecord, exc: SkyviaError) -> float:
        retry_after = exc.retry_after if isinstance(exc, SkyviaRateLimited) else None
        delay = self._backoff.failed(cursor.workspace_id, retry_after)
        log.warning(
            "failure scan of workspace %s backup %s: %s; retry in %.1fs",
            cursor.workspace_id,
            cursor.backup_id,
            type(exc).__name__,
            delay,
        )
        return delay
