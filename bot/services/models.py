"""Read models: what the use cases return about the bot's own state, never ORM rows.

Plain frozen dataclasses, built by the services from storage rows, so callers (the Slack
handlers and Block Kit builders) neither see a database session nor import `storage`. Each is
built from its row in one place: a watch's here (`WatchedRun.of`), a binding's with the bindings
(`bot.services.bindings.channel_binding`).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from enum import Enum, IntEnum
from typing import TYPE_CHECKING

from bot.skyvia.models import Backup, Snapshot, SnapshotState

if TYPE_CHECKING:
    # The annotation of `WatchedRun.of` only: importing the read models loads no database layer
    # (the Block Kit builders import them, and their tests need no SQLAlchemy).
    from storage.models import Watch


@dataclass(frozen=True)
class RunStep:
    """The Workflow Builder step a run completes: its execution, that execution's token
    (encrypted: only the sender decrypts it) and the workflow's title, shown on the card."""

    execution_id: str
    token_ciphertext: str
    taken_at: datetime
    """When the bot took the execution on (its clock): the step's limit counts from here."""
    workflow_title: str | None = None


@dataclass(frozen=True)
class BackupLimits:
    """The limits a channel set by hand for one backup (`alerts stale`, `alerts overdue`): a
    fixed duration or off. `auto`, the default, is not a setting and is left out."""

    backup_id: int
    stale_seconds: int | None = None
    stale_off: bool = False
    overdue_seconds: int | None = None
    overdue_off: bool = False

    @property
    def custom(self) -> bool:
        return (
            self.stale_off
            or self.overdue_off
            or self.stale_seconds is not None
            or self.overdue_seconds is not None
        )


class Reconnect(Enum):
    """What lifts a pause over a Skyvia token: connecting the channel again (the message layer
    words it; `bot.services.channel_pauses.reconnect_lifts` tells it from the stored reason)."""

    WITH_A_WORKING_TOKEN = "token"
    WITH_ITS_OWN_TOKEN = "own token"
    """The default token will not do: it no longer serves the channel's team."""


@dataclass(frozen=True)
class ChannelBinding:
    """A channel's binding to a Skyvia workspace, with its alert settings. Never holds the token."""

    channel_id: str
    workspace_id: int
    connected_by: str
    """Slack user id of whoever ran `connect`."""
    connected_at: datetime
    workspace_name: str | None = None
    alerts_enabled: bool = True
    muted_backup_ids: tuple[int, ...] = ()
    paused: bool = False
    paused_reason: str | None = None
    """Why alerts stopped, in plain words (e.g. "the bot was removed from the channel")."""
    reconnect: Reconnect | None = None
    """How the pause is lifted when a `connect` does (a pause over the Skyvia token)."""
    uses_default_token: bool = False
    mention_ids: tuple[str, ...] = ()
    """Who the channel's failure and stale alerts mention: Slack user (U…/W…) and group (S…) ids."""
    limits: tuple[BackupLimits, ...] = ()
    """The backups whose stale or overdue limit was set by hand here, by backup id."""


@dataclass(frozen=True)
class WatchedRun:
    """A snapshot started from Slack whose outcome the bot will post in the channel.

    What `status` and the App Home list, and what the announcer needs to update its card
    (`message_ts`) and reply in its thread.
    """

    channel_id: str
    backup_id: int
    snapshot_id: int
    started_by: str
    started_at: datetime
    backup_name: str | None = None
    state: SnapshotState | None = None
    """The last state seen, None before the first poll."""
    _: KW_ONLY
    team_id: str
    message_ts: str | None
    """The card's `ts`: the message updated on each state change, and the outcome's thread.

    None while the card's post has not been seen to land (the watcher settles it)."""
    card_thread_ts: str | None = None
    """The thread the card was posted in (a retry from a failure's message), else None."""
    step: RunStep | None = None
    """The Workflow Builder step this run completes when it ends; None for other runs."""

    @property
    def thread_ts(self) -> str | None:
        """Where the run's replies go: the card's thread, or the thread the card itself is in
        (a retry's card is a reply there, and Slack has no thread inside a thread). None while
        there is no card to reply to."""
        if self.message_ts is None:
            return None
        return self.card_thread_ts or self.message_ts

    @classmethod
    def of(cls, row: Watch) -> WatchedRun:
        """The run a watch row stands for. Built here, beside the model, so the watcher,
        `status`, App Home and the overdue check read a watch's columns one way."""
        return cls(
            team_id=row.team_id,
            message_ts=row.message_ts,
            card_thread_ts=row.card_thread_ts,
            channel_id=row.channel_id,
            backup_id=row.backup_id,
            snapshot_id=row.snapshot_id,
            started_by=row.started_by,
            started_at=row.started_at,
            backup_name=row.backup_name,
            state=SnapshotState(row.last_state) if row.last_state else None,
            step=(
                RunStep(
                    row.step_execution_id,
                    row.step_token_ciphertext,
                    row.step_taken_at,
                    row.workflow_title,
                )
                if row.step_execution_id and row.step_token_ciphertext and row.step_taken_at
                else None
            ),
        )


class Condition(IntEnum):
    """How a backup is doing; the lower the value, the earlier it is listed."""

    FAILING = 0
    STALE = 1
    UNKNOWN = 2
    NO_RUNS = 3
    HEALTHY = 4


@dataclass(frozen=True)
class BackupHealth:
    """One backup's line: its last runs (newest first), or None when Skyvia could not say."""

    backup: Backup
    runs: tuple[Snapshot, ...] | None
    muted: bool
    takers: tuple[str, ...] = ()
    """Who said "I'm on it" on the channel's alert of its failing streak (none: nobody)."""
    overdue: tuple[int, datetime] | None = None
    """The run this channel was told takes unusually long (its id, running since), while it
    goes on (`bot.services.alerting.overdue`)."""
    stale: bool = False
    """This channel's stale alert about it is open: no "fresh again" yet
    (`bot.services.alerting.staleness`)."""

    @property
    def last_good(self) -> datetime | None:
        """When the newest successful run ended (or started, when Skyvia gave no end)."""
        for run in self.runs or ():
            if run.state == SnapshotState.SUCCEEDED:
                return run.end_time or run.start_time or run.queue_time
        return None

    @property
    def failing_streak(self) -> int:
        """Failed or canceled runs since the newest success (all of them if none succeeded)."""
        streak = 0
        for run in self.runs or ():
            if run.state == SnapshotState.SUCCEEDED:
                break
            if run.state in (SnapshotState.FAILED, SnapshotState.CANCELED):
                streak += 1
        return streak

    @property
    def failing_since(self) -> datetime | None:
        """When the oldest run of the failing streak started; None when not failing."""
        since = None
        for run in self.runs or ():
            if run.state == SnapshotState.SUCCEEDED:
                break
            if run.state in (SnapshotState.FAILED, SnapshotState.CANCELED):
                since = run.start_time or run.queue_time or run.end_time or since
        return since

    @property
    def condition(self) -> Condition:
        if self.runs is None:
            return Condition.UNKNOWN
        if not self.runs:
            return Condition.NO_RUNS
        if self.failing_streak:
            return Condition.FAILING
        return Condition.STALE if self.stale else Condition.HEALTHY


@dataclass(frozen=True)
class WorkspaceHealth:
    workspace_id: int
    workspace_name: str | None
    backups: list[BackupHealth]
    """Worst first: see `worst_first`."""

    @property
    def healthy(self) -> int:
        return sum(1 for item in self.backups if item.condition is Condition.HEALTHY)


@dataclass(frozen=True)
class RecentFailure:
    """A failure alert the bot sent to a channel: what the App Home lists with its buttons."""

    channel_id: str
    backup_id: int
    backup_name: str | None
    snapshot_id: int
    alerted_at: datetime
    message_ts: str | None
    """The alert's `ts`: a retry started from the App Home joins its thread."""
    failures: int | None = None
    """How many failed in a row in the episode the alert opened (None: its episode is not
    known, e.g. it was alerted under an earlier binding of the channel)."""
    failing_since: datetime | None = None
    latest_snapshot_id: int | None = None
    """The episode's latest failure (the alert's own snapshot while it is the only one)."""
    recovered_at: datetime | None = None
    """When the success that ended the episode ran (None while it is failing)."""


@dataclass(frozen=True)
class OverdueRun:
    """A run still going that its channel was told takes unusually long (the App Home)."""

    backup_id: int
    backup_name: str | None
    snapshot_id: int
    running_seconds: float
    usual_seconds: float | None
