"""Starting a snapshot from a channel, and what is being watched where.

Steps 1-3 of docs/reference/guarantees.md#a-snapshot-started-from-slack.

The order of `SnapshotService.start` is the point of this module; see its docstring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services.announcements import Announcer, CardOwed, Channel
from bot.services.audit import Actor, Entry, record, record_in
from bot.services.backups import failure_detail
from bot.services.bindings import BoundWorkspace, by_binding, channel_binding
from bot.services.errors import DomainError
from bot.services.models import ChannelBinding, OverdueRun, RecentFailure, RunStep, WatchedRun
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaError
from bot.skyvia.models import ActiveRun, Backup, Snapshot
from storage.db import Database
from storage.models import DeliveryKind, Watch
from storage.repositories import (
    AlertCursorRepository,
    BindingRepository,
    DeliveryLedger,
    Episode,
    EpisodeRepository,
    StalenessRepository,
    WatchRepository,
)
from storage.repositories.deliveries import LedgerKey, SentAlert, SentMark
from storage.repositories.watches import WatchedStep

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
    alongside: bool = False
    """Started while another run of the backup was active (`even_if_active`, re-checked)."""


PostCard = Callable[[StartedSnapshot], Awaitable[str]]
"""Posts the snapshot's lifecycle card in the channel, with the card's delivery metadata
(`card_ledger_key`), and returns its message id (Slack `ts`).

Raises `CardRefused` (or a `DomainError`) when Slack answered that nothing was posted; any other
exception means the outcome is unknown (a 5xx, a dropped connection, a timeout)."""

CARD_OWNER = "web"
"""Ledger claimant of a card posted while answering a request (the workers name themselves)."""
WATCH_HOLD = 30.0
"""Seconds a started run's record is held (retried) while the database is away, before the
user is told it will not be followed: longer than a database restart or failover takes (the
soak's outage lasts 10 s), short enough that the user hears back within the minute. The command
was acknowledged long before; its answer goes to its response_url."""
CARD_TIMEOUT = 4.0
"""Seconds the request waits for its card's post: under the workers' stale-claim window (at
least 8 s), so the watcher never reads back a card whose post is still under way."""
WATCH_RETRY_PAUSE = 0.5
"""Seconds before the second try, doubling up to `WATCH_RETRY_PAUSE_MAX`."""
WATCH_RETRY_PAUSE_MAX = 4.0


def card_ledger_key(team_id: str, channel_id: str, snapshot_id: int) -> LedgerKey:
    """The delivery ledger's key of a run's lifecycle card: one card per run and channel."""
    return (team_id, channel_id, snapshot_id, DeliveryKind.CARD)


class CardRefused(Exception):
    """Slack refused the card's post (an error answer): it is certainly not in the channel."""


class NothingStarted(DomainError):
    """The database cannot record a run just now, so none was started (nothing to undo)."""

    def __init__(self, backup: Backup) -> None:
        super().__init__(backup.id)
        self.backup = backup


class StartedUnwatched(DomainError):
    """The snapshot runs, but no watch could be recorded, so its outcome will not be posted here."""

    def __init__(self, started: StartedSnapshot) -> None:
        super().__init__(started.run.run_id)
        self.started = started


@dataclass(frozen=True)
class ChannelOverview:
    """A bound channel as the Home tab shows it: its binding and the snapshots watched there."""

    binding: ChannelBinding
    watches: list[WatchedRun] = field(default_factory=list)
    backup_names: dict[int, str] = field(default_factory=dict)
    """Names of the workspace's backups as the alert scanner last listed them (muted ones)."""
    overdue: list[OverdueRun] = field(default_factory=list)
    """Runs going that this channel was told take unusually long, longest first."""


class SnapshotService:
    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        watch_interval: float,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        announcer: Announcer | None = None,
    ) -> None:
        """`announcer`: where a card Slack refused is owed at once; without one, the watcher
        owes it at the watch's first poll (an interval later)."""
        self._db = db
        self._skyvia = skyvia
        self._announcer = announcer
        self._watch_interval = timedelta(seconds=watch_interval)
        self._clock = clock
        self._sleep = sleep

    async def start(
        self,
        bound: BoundWorkspace,
        backup_id: int,
        *,
        user_id: str,
        post_card: PostCard,
        even_if_active: bool = False,
        card_thread_ts: str | None = None,
        step: RunStep | None = None,
    ) -> Watched | AlreadyActive:
        """Starts a snapshot, records its watch, then posts its card, in that order.

        1. Everything that can refuse is done first (the backup exists, nothing is active
           unless `even_if_active`, the database answers), so after the POST only one insert
           and the card remain. A database that does not answer starts nothing
           (`NothingStarted`): a run the bot cannot record would not be followed.
        2. `POST .../snapshots`. Skyvia gives no idempotency; the client looks at `/active`
           instead of re-posting after a lost answer, and the caller's click claim stops a
           double click before it gets here.
        3. The watch (without a card yet), the ledger's claim of the card and the audit entry,
           in one transaction, held until the database is back (`WATCH_HOLD`): from here on
           the watcher reports the run whatever happens to the card. If the database stays
           unavailable longer the user is told
           plainly that the run will not be followed (`StartedUnwatched`); the alert scanner
           still reports its failure, as for any run no watch claims. A run a Workflow
           Builder `step` started records that step on its watch, in the same transaction, so
           the step is completed when the run ends whatever happens in between.
        4. `post_card`, and the card's `ts` recorded on the watch and in the ledger. A card
           Slack refused releases the claim and is owed to the outbox at once (`_owe_card`;
           the watcher learns its `ts` from the ledger); a card whose outcome is
           unknown keeps the claim, and the watcher reads it back by its metadata once the claim
           is stale, posting only if absent (`bot.slack.delivery.notifier`). Either way one card,
           and the outcome in its thread.
        """
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        # Asked also for `even_if_active`: the run shown as active may have ended since.
        active = await self._skyvia.get_active_snapshot(bound.token, bound.workspace_id, backup_id)
        if active is not None and not even_if_active:
            watch = await self._watch_of(bound, active.run_id)
            return AlreadyActive(backup=backup, active_run=active, watch=watch)
        actor = Actor(bound.team_id, bound.channel_id, user_id)
        target = f"backup {backup_id}"
        await self._able_to_record(actor, backup)
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
        if active is not None:
            detail += ", while another was active"
        entry = Entry("snapshot", target, "started", detail)
        watch = await self._watch_started(bound, started, actor, entry, card_thread_ts, step)
        card = await self._post_card(post_card, started, watch)
        return Watched(started=started, watch=card, alongside=active is not None)

    async def _watch_started(
        self,
        bound: BoundWorkspace,
        started: StartedSnapshot,
        actor: Actor,
        entry: Entry,
        card_thread_ts: str | None,
        step: RunStep | None,
    ) -> WatchedRun:
        """Step 3 of `start`, held until the database is back (at most `WATCH_HOLD` seconds,
        by the clock and by the pauses alone); `StartedUnwatched` if it never commits."""
        pause, paused, attempt = WATCH_RETRY_PAUSE, 0.0, 0
        held_since = time.monotonic()
        while True:
            attempt += 1
            try:
                return await self._record_watch(bound, started, actor, entry, card_thread_ts, step)
            except Exception as error:  # the database: refused, timed out, gone
                log.warning(
                    "snapshot %s started; recording its watch failed (try %d, held up to %gs): %s",
                    started.run.run_id,
                    attempt,
                    WATCH_HOLD,
                    type(error).__name__,
                    extra={"team": actor.team_id, "channel": actor.channel_id},
                )
            held = max(paused, time.monotonic() - held_since)
            if held + pause > WATCH_HOLD:
                break
            await self._sleep(pause)
            paused += pause
            pause = min(pause * 2, WATCH_RETRY_PAUSE_MAX)
        log.error(
            "snapshot %s of backup %s started but is not watched: the database is unavailable",
            started.run.run_id,
            started.backup.id,
            extra={"team": actor.team_id, "channel": actor.channel_id},
        )
        raise StartedUnwatched(started)

    async def _able_to_record(self, actor: Actor, backup: Backup) -> None:
        """Step 1's last check, just before the `POST`: the database answers, or nothing starts.

        A run the bot cannot record would run unfollowed. The binding was read moments ago, but
        the Skyvia checks since can take seconds; this keeps the window in which the database
        can go away to the `POST` itself, and `_watch_started` holds the record across that.
        """
        if await self._db.ping():
            return
        log.warning(
            "snapshot of backup %s not started: the database is unavailable",
            backup.id,
            extra={"team": actor.team_id, "channel": actor.channel_id},
        )
        raise NothingStarted(backup)

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
            return WatchedRun.of(row)

    async def _record_watch(
        self,
        bound: BoundWorkspace,
        started: StartedSnapshot,
        actor: Actor,
        entry: Entry,
        card_thread_ts: str | None,
        step: RunStep | None,
    ) -> WatchedRun:
        run, backup = started.run, started.backup
        now = self._clock()
        async with self._db.session() as session:
            watch = await WatchRepository(session).add(
                team_id=bound.team_id,
                channel_id=bound.channel_id,
                message_ts=None,
                workspace_id=bound.workspace_id,
                backup_id=backup.id,
                backup_name=backup.name,
                snapshot_id=run.run_id,
                started_by=started.started_by,
                started_at=started.started_at,
                next_poll_at=now + self._watch_interval,
                last_state=str(run.state),
                card_thread_ts=card_thread_ts,
                step=(
                    WatchedStep(
                        step.execution_id, step.token_ciphertext, step.workflow_title, step.taken_at
                    )
                    if step is not None
                    else None
                ),
            )
            key = card_ledger_key(bound.team_id, bound.channel_id, run.run_id)
            await DeliveryLedger(session).claim_many([key], owner=CARD_OWNER)
            await record_in(session, actor, entry)
            return WatchedRun.of(watch)

    async def _post_card(
        self, post_card: PostCard, started: StartedSnapshot, watch: WatchedRun
    ) -> WatchedRun:
        """Step 4 of `start`: the watch with its card's `ts`, or without one for the watcher."""
        key = card_ledger_key(watch.team_id, watch.channel_id, watch.snapshot_id)
        context = {"team": watch.team_id, "channel": watch.channel_id}
        try:
            async with asyncio.timeout(CARD_TIMEOUT):
                ts = await post_card(started)
        except (CardRefused, DomainError) as error:
            log.warning(
                "card of snapshot %s refused (%s); owed to the outbox",
                watch.snapshot_id,
                error,
                extra=context,
            )
            await self._quietly(lambda session: _release_card(session, key), key)
            await self._owe_card(watch, started)
            return watch
        except Exception as error:
            log.warning(
                "card of snapshot %s got no answer (%s); the watcher reads it back",
                watch.snapshot_id,
                type(error).__name__,
                extra=context,
            )
            return watch
        now = self._clock()
        await self._quietly(lambda session: _record_card(session, key, ts, now), key)
        return replace(watch, message_ts=ts)

    async def _owe_card(self, watch: WatchedRun, started: StartedSnapshot) -> None:
        """A refused card (nothing posted) is owed in the outbox at once, so the senders post
        it at the channel's pace: waiting for the watcher's first poll cost the person an
        interval (15 s) whenever Slack's pace left the request no turn. The watcher's poll
        then reads its `ts` from the ledger; if owing fails here, that poll owes it."""
        if self._announcer is None:
            return
        run = started.run
        snapshot = Snapshot.model_validate(
            {"snapshotId": run.run_id, "state": run.state, "queueTime": run.date}
        )
        try:
            await self._announcer.owe(
                CardOwed(watch, snapshot, self._clock()),
                Channel(watch.team_id, watch.channel_id),
            )
        except Exception as error:
            log.warning(
                "could not owe the card of snapshot %s (%s); the watcher owes it",
                watch.snapshot_id,
                type(error).__name__,
            )

    async def _quietly(
        self, write: Callable[[AsyncSession], Awaitable[None]], key: LedgerKey
    ) -> None:
        """A card write after the post; if it fails, the watcher settles the claim instead."""
        try:
            async with self._db.session() as session:
                await write(session)
        except Exception as error:
            log.warning(
                "could not record the card %s (%s); the watcher settles it",
                "/".join(map(str, key)),
                type(error).__name__,
            )

    async def channels_overview(self, team_id: str) -> list[ChannelOverview]:
        """Every bound channel of a team with its mutes and the snapshots watched there.

        A fixed number of queries however many channels the team has bound (App Home runs it on
        every open).

        Only pending watches are listed, each with the state its last poll saw: a finished
        run leaves the list as soon as its watch is finished.
        """
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            channels = list(await bindings.list_for_team(team_id))
            watches = await WatchRepository(session).pending_for_team(team_id)
            mutes = await bindings.mutes_of([row.id for row in channels])
            settings = by_binding(
                await StalenessRepository(session).for_bindings([row.id for row in channels])
            )
            workspaces = {row.workspace_id for row in channels}
            names = await AlertCursorRepository(session).backup_names(workspaces)
            overdue = await _overdue_runs(session, team_id, workspaces, self._clock())
        by_channel: dict[str, list[Watch]] = {}
        for watch in watches:
            by_channel.setdefault(watch.channel_id, []).append(watch)
        return [
            ChannelOverview(
                binding=channel_binding(row, mutes[row.id], settings.get(row.id)),
                watches=[WatchedRun.of(w) for w in by_channel.get(row.channel_id, [])],
                backup_names=names.get(row.workspace_id, {}),
                overdue=overdue.get((row.channel_id, row.workspace_id), []),
            )
            for row in channels
        ]

    async def backup_names(self, workspace_id: int) -> dict[int, str]:
        """The workspace's backup names as the alert scanner last saw them (no Skyvia call)."""
        async with self._db.session() as session:
            return await _cursor_names(session, workspace_id)

    async def recent_failures(
        self, team_id: str, channel_ids: Collection[str], limit: int
    ) -> list[RecentFailure]:
        """The latest failure alerts sent to these channels, newest first (no Skyvia call)."""
        async with self._db.session() as session:
            sent = await DeliveryLedger(session).recent_sent(
                team_id, channel_ids, DeliveryKind.ALERT, limit=limit
            )
            episodes = await EpisodeRepository(session).of_alerts(
                team_id, {(alert.channel_id, alert.snapshot_id) for alert in sent}
            )
        return [
            _recent_failure(alert, episodes.get((alert.channel_id, alert.snapshot_id)))
            for alert in sent
        ]


async def _overdue_runs(
    session: AsyncSession, team_id: str, workspace_ids: Collection[int], now: datetime
) -> dict[tuple[str, int], list[OverdueRun]]:
    """The runs going in these workspaces that each channel of the team was told are overdue,
    by (channel, workspace), longest first: two queries however many channels."""
    going = await AlertCursorRepository(session).running_in(workspace_ids)
    told = await DeliveryLedger(session).owed_keys(
        [run.snapshot_id for run in going], DeliveryKind.OVERDUE
    )
    by_snapshot = {run.snapshot_id: run for run in going}
    found: dict[tuple[str, int], list[OverdueRun]] = {}
    for team, channel, snapshot_id in sorted(told):
        run = by_snapshot.get(snapshot_id)
        if team == team_id and run is not None:
            found.setdefault((channel, run.workspace_id), []).append(
                OverdueRun(
                    backup_id=run.backup_id,
                    backup_name=run.backup_name,
                    snapshot_id=run.snapshot_id,
                    running_seconds=max(0.0, (now - run.since).total_seconds()),
                    usual_seconds=run.usual_seconds,
                )
            )
    for runs in found.values():
        runs.sort(key=lambda run: -run.running_seconds)
    return found


def _recent_failure(alert: SentAlert, episode: Episode | None) -> RecentFailure:
    """A sent alert with the episode it opened, as that episode is now."""
    failure = RecentFailure(
        channel_id=alert.channel_id,
        backup_id=alert.backup_id,
        backup_name=alert.backup_name,
        snapshot_id=alert.snapshot_id,
        alerted_at=alert.sent_at,
        message_ts=alert.message_ts,
    )
    if episode is None:
        return failure
    return replace(
        failure,
        failures=episode.failures,
        failing_since=episode.since,
        latest_snapshot_id=episode.last_snapshot_id,
        recovered_at=episode.recovered_at,
    )


async def _cursor_names(session: AsyncSession, workspace_id: int) -> dict[int, str]:
    cursors = await AlertCursorRepository(session).list_for_workspace(workspace_id)
    return {c.backup_id: c.backup_name for c in cursors if c.backup_name}


async def _record_card(session: AsyncSession, key: LedgerKey, ts: str, now: datetime) -> None:
    team_id, channel_id, snapshot_id, _ = key
    await WatchRepository(session).set_card(team_id, channel_id, snapshot_id, ts)
    await DeliveryLedger(session).mark_sent_many([SentMark(key, ts, now)])


async def _release_card(session: AsyncSession, key: LedgerKey) -> None:
    team_id, channel_id, snapshot_id, kind = key
    await DeliveryLedger(session).release(team_id, channel_id, snapshot_id, kind, owner=CARD_OWNER)
