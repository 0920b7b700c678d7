"""Starting a snapshot from a channel, and what is being watched where.

Steps 1-3 of docs/reference/guarantees.md#a-snapshot-started-from-slack.

The order of `SnapshotService.start` is the point of this module; see its docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.services.audit import Actor, Entry, record, record_in
from bot.services.backups import failure_detail
from bot.services.bindings import BoundWorkspace, channel_binding, watched_run
from bot.services.errors import DomainError
from bot.services.models import ChannelBinding, WatchedRun
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import ActiveRun, Backup
from storage.db import Database
from storage.models import Watch
from storage.repositories import BindingRepository, WatchRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedSnapshot:
    """A snapshot this bot started; `started_at` is Skyvia's run date when it gave one."""

    backup: Backup
    run: ActiveRun
    started_by: str
    started_at: datetime


@dataclass(frozen=True)
class AlreadyActive:
    """Nothing was started: `active_run` of `backup` has not finished yet.

    `watch` is set when the run was started from Slack (this channel's watch first, else
    another channel's of the team), so the user can be told who started it and where.
    """

    backup: Backup
    active_run: ActiveRun
    watch: WatchedRun | None = None


@dataclass(frozen=True)
class Watched:
    """The outcome of a start: the snapshot and the watch that will report it."""

    started: StartedSnapshot
    watch: WatchedRun


PostCard = Callable[[StartedSnapshot], Awaitable[str]]
"""Posts the snapshot's lifecycle card in the channel and returns its message id (Slack `ts`)."""


class StartedWithoutCard(DomainError):
    """The snapshot runs, but its card could not be posted, so nothing watches it here."""

    def __init__(self, started: StartedSnapshot, cause: Exception) -> None:
        backup = started.backup
        fix = (
            cause.fix
            if isinstance(cause, DomainError)
            else f"Follow it with `/skyvia backup {backup.id}`."
        )
        super().__init__(
            f"Snapshot {started.run.run_id} of {backup.display_name} ({backup.id}) was started, "
            "but I could not post its progress in this channel.",
            fix,
        )
        self.started = started


@dataclass(frozen=True)
class ChannelOverview:
    """A bound channel as the Home tab shows it: its binding and the snapshots watched there."""

    binding: ChannelBinding
    watches: list[WatchedRun] = field(default_factory=list)


class SnapshotService:
    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        watch_interval: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._watch_interval = timedelta(seconds=watch_interval)
        self._clock = clock

    async def start(
        self,
        bound: BoundWorkspace,
        backup_id: int,
        *,
        user_id: str,
        post_card: PostCard,
        even_if_active: bool = False,
    ) -> Watched | AlreadyActive:
        """Starts a snapshot, posts its card and records the watch, in that order.

        1. Everything that can refuse is done first (the backup exists, nothing is active
           unless `even_if_active`), so after the POST only the card and one insert remain.
        2. `POST .../snapshots`. Skyvia gives no idempotency; the client looks at `/active`
           instead of re-posting after a lost answer, and the caller's click claim stops a
           double click before it gets here.
        3. `post_card`: the channel message whose `ts` is the thread the outcome goes to.
        4. The watch and the audit entry, in one transaction.

        The watch cannot be written before 3: it needs both the snapshot id and the card's
        `ts`, and a watch without its thread would make the watcher post the outcome out of
        place. So a crash between 2 and 4 (one Slack call and one insert) can leave a snapshot
        running unwatched. That is the one window left, and it is covered: the alert scanner
        reports every failed snapshot of the workspace that no watch of the channel claims, so
        a failure is never lost, only a success goes unannounced. If the card cannot be posted
        (a private channel, Slack down), the user is told the snapshot id instead
        (`StartedWithoutCard`) and the start is audited as such.
        """
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        if not even_if_active:
            active = await self._skyvia.get_active_snapshot(
                bound.token, bound.workspace_id, backup_id
            )
            if active is not None:
                watch = await self._watch_of(bound, active.run_id)
                return AlreadyActive(backup=backup, active_run=active, watch=watch)
        actor = Actor(bound.team_id, bound.channel_id, user_id)
        target = f"backup {backup_id}"
        try:
            run = await self._skyvia.create_snapshot(bound.token, bound.workspace_id, backup_id)
        except SkyviaError as error:
            entry = Entry("snapshot", target, "failed", failure_detail(error))
            await record(self._db, actor, entry)
            raise
        started = StartedSnapshot(
            backup=backup, run=run, started_by=user_id, started_at=run.date or self._clock()
        )
        detail = f"snapshot {run.run_id}, workspace {bound.workspace_id}"
        if even_if_active:
            detail += ", while another was active"
        message_ts = await self._post_card(post_card, started, actor, target, detail)
        entry = Entry("snapshot", target, "started", detail)
        return await self._record_watch(bound, started, message_ts, actor, entry)

    async def _post_card(
        self, post_card: PostCard, started: StartedSnapshot, actor: Actor, target: str, detail: str
    ) -> str:
        """The card's `ts`; if it cannot be posted, the start is audited without a card and the
        caller gets `StartedWithoutCard` to tell the user the snapshot id instead."""
        try:
            return await post_card(started)
        except Exception as error:
            log.warning(
                "snapshot %s started but its card was not posted: %s",
                started.run.run_id,
                type(error).__name__,
                extra={"team": actor.team_id, "channel": actor.channel_id},
            )
            await record(
                self._db, actor, Entry("snapshot", target, "started", detail + ", no card")
            )
            raise StartedWithoutCard(started, error) from error

    async def _watch_of(self, bound: BoundWorkspace, snapshot_id: int) -> WatchedRun | None:
        """The team's watch of a running snapshot, preferring the asking channel's."""
        async with self._db.session() as session:
            watches = WatchRepository(session)
            row = await watches.get_for_snapshot(bound.team_id, bound.channel_id, snapshot_id)
            if row is None:
                others = sorted(
                    channel
                    for team, channel, _ in await watches.watched_snapshots([snapshot_id])
                    if team == bound.team_id
                )
                if others:
                    row = await watches.get_for_snapshot(bound.team_id, others[0], snapshot_id)
            if row is None or row.workspace_id != bound.workspace_id:
                return None
            return watched_run(row)

    async def _record_watch(
        self,
        bound: BoundWorkspace,
        started: StartedSnapshot,
        message_ts: str,
        actor: Actor,
        entry: Entry,
    ) -> Watched:
        """Step 4 of `start`: the watch and its audit entry, committed together."""
        run, backup = started.run, started.backup
        async with self._db.session() as session:
            watch = await WatchRepository(session).add(
                team_id=bound.team_id,
                channel_id=bound.channel_id,
                message_ts=message_ts,
                workspace_id=bound.workspace_id,
                backup_id=backup.id,
                backup_name=backup.name,
                snapshot_id=run.run_id,
                started_by=started.started_by,
                started_at=started.started_at,
                next_poll_at=self._clock() + self._watch_interval,
                last_state=str(run.state),
            )
            await record_in(session, actor, entry)
            return Watched(started=started, watch=watched_run(watch))

    async def channels_overview(self, team_id: str) -> list[ChannelOverview]:
        """Every bound channel of a team with its mutes and the snapshots watched there."""
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            channels = list(await bindings.list_for_team(team_id))
            watches = await WatchRepository(session).pending_for_team(team_id)
            by_channel: dict[str, list[Watch]] = {}
            for watch in watches:
                by_channel.setdefault(watch.channel_id, []).append(watch)
            return [
                ChannelOverview(
                    binding=channel_binding(row, await bindings.muted_backup_ids(row.id)),
                    watches=[watched_run(w) for w in by_channel.get(row.channel_id, [])],
                )
                for row in channels
            ]
