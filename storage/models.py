"""The bot's tables, as typed SQLAlchemy 2 declarative models.

Every timestamp is a `UTCDateTime` and every time is passed in by the caller (`now`), so workers and
tests control the clock. Slack ids are short ASCII strings; names and texts that come from Skyvia or
users are `Text`, so PostgreSQL never rejects a long one that SQLite would have accepted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

# Slack's OAuth tables join `Base.metadata` when their module is imported: imported here, so that
# autogenerate and test clean-up see the whole schema the migrations create.
from storage import slack_tables as slack_tables
from storage.columns import Base as Base
from storage.columns import BigId, LeaseOwner, SkyviaId, SlackId
from storage.types import UTCDateTime


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Owed and queued in the outbox: a sender will claim and post it
    (`bot.slack.delivery.senders`)."""
    CLAIMED = "claimed"
    """Someone is posting it now (or crashed while posting: see `claimed_at`)."""
    SENT = "sent"
    FAILED = "failed"
    """Slack refused the last attempt; retried after a backoff that grows with `attempts`."""
    GAVE_UP = "gave_up"
    """Slack refused it for good, or too often: never attempted again (`last_error` says why)."""


class DeliveryKind(StrEnum):
    """What a ledger row stands for; `note_kind()` builds the per-interval "still running" kinds."""

    THREAD_REPLY = "thread_reply"
    ALERT = "alert"
    GAVE_UP = "gave_up"
    REVOKED = "revoked"
    VANISHED = "vanished"
    CARD = "card"
    EPISODE_REPLY = "episode_reply"
    """A further failure of an open episode, in the thread of its first alert."""
    EPISODE_HEADER = "episode_header"
    """The alert's first line edited to the streak (a `chat.update`, once per failure)."""
    RECOVERED = "recovered"
    """The "Recovered" reply of the success that closed an episode."""
    RECOVERED_HEADER = "recovered_header"
    """The alert's first line edited to "recovered" (a `chat.update`)."""
    STALE = "stale"
    """"No good snapshot for …", keyed by the last good snapshot (0 for none)."""
    FRESH = "fresh"
    """"Fresh again" in the stale alert's thread, keyed by the new good snapshot."""
    FRESH_HEADER = "fresh_header"
    """The stale alert's first line edited to "fresh again" (a `chat.update`), keyed as `FRESH`."""
    OVERDUE = "overdue"
    """"⏳ … has been running 2h 10m", keyed by the run: once per run and channel."""
    OVERDUE_END = "overdue_end"
    """"… finished after 2h 31m" in the overdue note's thread, keyed by the run."""
    STEP_DONE = "step_done"
    """A Workflow Builder step's completion (`functions.completeSuccess`/`completeError`), keyed
    by the snapshot its execution started: one execution per run and channel."""


SCANNED_KINDS = frozenset(
    {DeliveryKind.ALERT, DeliveryKind.EPISODE_REPLY, DeliveryKind.EPISODE_HEADER}
)
"""Kinds the alert scanner may ask for again as long as it re-reads a failure."""


def card_edit_kind(state: str) -> str:
    """Ledger kind of a card's edit to `state`, e.g. `card:Running`: one per state shown."""
    return f"card:{state}"[:32]


def note_kind(minutes: int) -> str:
    """Ledger kind of the "still running (N min)" note, e.g. `note:30`: one per interval."""
    return f"note:{minutes}"


class WatchOutcome(StrEnum):
    """Outcomes that are not a snapshot state (a finished snapshot stores its final state)."""

    GAVE_UP = "gave_up"
    STOPPED = "stopped"
    VANISHED = "vanished"
    """Skyvia no longer knows the snapshot (404 or another refusal that will not heal)."""


class Binding(Base):
    """A channel bound to a Skyvia workspace; `token_ciphertext` NULL means the default token.

    Read as a `storage.records.BindingRecord`: the repositories hand out no entity of it."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id"),
        Index(None, "workspace_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    # The workspace's Enterprise Grid org, if any: how the workers find an org-wide install.
    enterprise_id: Mapped[str | None] = mapped_column(SlackId)
    channel_id: Mapped[str] = mapped_column(SlackId)
    workspace_id: Mapped[int] = mapped_column(SkyviaId)
    workspace_name: Mapped[str | None] = mapped_column(Text)
    token_ciphertext: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(SlackId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alerts_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Failures that finished before this are never announced in this channel.
    alerts_since: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Slack user (U…/W…) and user group (S…) ids that this channel's failure alerts mention,
    # space-separated in the order given; NULL when nobody is mentioned.
    alert_mentions: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:  # the ciphertext stays out of logs as well
        return (
            f"Binding(id={self.id}, team_id={self.team_id!r}, channel_id={self.channel_id!r}, "
            f"workspace_id={self.workspace_id})"
        )


class Mute(Base):
    """A backup whose failures a channel does not want to hear about."""

    __tablename__ = "mutes"

    binding_id: Mapped[int] = mapped_column(
        ForeignKey("bindings.id", ondelete="CASCADE"), primary_key=True
    )
    backup_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    muted_by: Mapped[str] = mapped_column(SlackId)
    muted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Unmute(Base):
    """When a channel last unmuted a backup: failures that ended before stay unannounced there.

    Without it a failure that ended while the backup was muted, but after the shared alert
    cursor (which lags a few minutes behind), would be announced the moment it is unmuted.
    """

    __tablename__ = "unmutes"

    binding_id: Mapped[int] = mapped_column(
        ForeignKey("bindings.id", ondelete="CASCADE"), primary_key=True
    )
    backup_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    unmuted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Watch(Base):
    """A snapshot started from Slack, polled until final; `finished_at` is NULL while pending."""

    __tablename__ = "watches"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "snapshot_id"),
        Index(None, "next_poll_at"),
        Index(None, "snapshot_id"),  # the alert scanner's "is this snapshot watched?"
        Index(None, "finished_at"),  # pending watches (NULL) and retention of finished ones
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    channel_id: Mapped[str] = mapped_column(SlackId)
    # The lifecycle card, the thread's parent; NULL until its post is known to have landed.
    message_ts: Mapped[str | None] = mapped_column(SlackId)
    # The thread the card was posted in (a retry from a failure's message), else NULL.
    card_thread_ts: Mapped[str | None] = mapped_column(SlackId)
    workspace_id: Mapped[int] = mapped_column(SkyviaId)
    backup_id: Mapped[int] = mapped_column(SkyviaId)
    backup_name: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int] = mapped_column(SkyviaId)
    started_by: Mapped[str] = mapped_column(SlackId)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_state: Mapped[str | None] = mapped_column(String(32))
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_note_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    poll_errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(LeaseOwner)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The final snapshot state, or a WatchOutcome when the bot stopped watching without one.
    outcome: Mapped[str | None] = mapped_column(String(32))
    # A run a Workflow Builder step started: the execution to complete when the run ends, its
    # own token (encrypted like every token; Slack gives it with the event) and the workflow's
    # title for the card. NULL for runs started by a command or a button.
    step_execution_id: Mapped[str | None] = mapped_column(String(64))
    step_token_ciphertext: Mapped[str | None] = mapped_column(Text)
    step_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    workflow_title: Mapped[str | None] = mapped_column(Text)

    @property
    def is_pending(self) -> bool:
        return self.finished_at is None


class AlertCursor(Base):
    """How far failures of one backup have been scanned, shared by every channel of its workspace.

    Failures that ended at or after `cursor` are not yet scanned; one cursor per (workspace, backup)
    keeps the Skyvia calls independent of how many channels listen. Read as a
    `storage.records.CursorRecord`: the repositories hand out no entity of it.
    """

    __tablename__ = "alert_cursors"
    __table_args__ = (Index(None, "next_scan_at"),)

    workspace_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    backup_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    backup_name: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[datetime] = mapped_column(UTCDateTime)
    next_scan_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(LeaseOwner)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the stale check learned of the backup's recent runs (see
    # `bot.services.alerting.staleness`): refreshed by at most one listing per scan, and only when a
    # check is due.
    scheduled: Mapped[bool | None] = mapped_column(Boolean)
    cadence_seconds: Mapped[float | None] = mapped_column(Float)
    last_good_snapshot_id: Mapped[int | None] = mapped_column(SkyviaId)
    last_good_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the overdue check knows (see `bot.services.alerting.overdue`): the median duration of
    # recent successful runs (None until 3 are known), the latest scheduled start, the run seen
    # going (kept until its end is told) and when `GET .../snapshots/active` was last asked.
    usual_run_seconds: Mapped[float | None] = mapped_column(Float)
    last_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    running_snapshot_id: Mapped[int | None] = mapped_column(SkyviaId)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class _EpisodeState:
    """An episode's streak, as its live row (`AlertEpisode`) and its kept copy (`PastEpisode`)
    both hold it (`storage.repositories.episodes.Episode` reads these by name)."""

    first_snapshot_id: Mapped[int] = mapped_column(SkyviaId)
    failures: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_snapshot_id: Mapped[int] = mapped_column(SkyviaId)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recovered_snapshot_id: Mapped[int | None] = mapped_column(SkyviaId)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertEpisode(_EpisodeState, Base):
    """A backup's failing streak as one channel (binding) sees it.

    One row per binding and backup, reused: `closed_at` NULL while the episode is open. The
    first failure's alert (`first_snapshot_id`, its ledger row holds the `ts`) is the thread
    every later failure and the recovery go in. `last_failed_at` makes counting idempotent:
    a failure is counted only if it ended after the last one counted, so a re-read scan never
    counts twice. `recovered_snapshot_id` is set before the recovery is announced and
    `closed_at` only after, so a crash in between announces it on the next scan.
    """

    __tablename__ = "alert_episodes"
    __table_args__ = (Index(None, "closed_at"),)

    binding_id: Mapped[int] = mapped_column(
        ForeignKey("bindings.id", ondelete="CASCADE"), primary_key=True
    )
    backup_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PastEpisode(_EpisodeState, Base):
    """A failure episode that is over, kept after its `AlertEpisode` row is reused.

    Written when the episode closes (its recovery announced), so the App Home can show an
    alert's episode as it ended, however many episodes of the backup came after it. Pruned
    with the delivery ledger's rows (by `closed_at`): an alert older than those is not shown.
    """

    __tablename__ = "past_episodes"
    __table_args__ = (UniqueConstraint("binding_id", "backup_id", "first_snapshot_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    binding_id: Mapped[int] = mapped_column(ForeignKey("bindings.id", ondelete="CASCADE"))
    backup_id: Mapped[int] = mapped_column(SkyviaId)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BackupStaleness(Base):
    """A channel's stale limit for one backup, and its open stale episode if any.

    No row means `auto`. `limit_seconds` NULL with `disabled` false is `auto` too. The episode:
    `stale_snapshot_id` is the last good snapshot when the channel was told (0 for none), set
    before the alert is posted; it is cleared once the "fresh again" reply is out.
    """

    __tablename__ = "backup_staleness"

    binding_id: Mapped[int] = mapped_column(
        ForeignKey("bindings.id", ondelete="CASCADE"), primary_key=True
    )
    backup_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    limit_seconds: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stale_snapshot_id: Mapped[int | None] = mapped_column(SkyviaId)
    stale_announced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # `alerts overdue`: NULL and not disabled is `auto` (see `bot.services.alerting.overdue`).
    overdue_seconds: Mapped[int | None] = mapped_column(Integer)
    overdue_disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Delivery(Base):
    """The ledger: one row per message the bot means to send, unique per channel/snapshot/kind.

    A row is claimed before the Slack call and marked sent after it, so a crash in between leaves
    a visible `claimed` row to recover instead of a duplicate or a silent loss.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "snapshot_id", "kind"),
        Index(None, "status", "claimed_at"),
        Index(None, "snapshot_id", "kind", "status"),  # the alert scanner's "already sent?"
        Index(None, "claimed_at"),  # retention, whatever the status
        Index(None, "team_id", "kind", "sent_at"),  # the App Home's recent failures
        Index(None, "status", "priority", "id"),  # the senders' next rows
        Index(None, "target"),  # coalescing edits of one message
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    channel_id: Mapped[str] = mapped_column(SlackId)
    snapshot_id: Mapped[int] = mapped_column(SkyviaId)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(LeaseOwner)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_ts: Mapped[str | None] = mapped_column(SlackId)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Attempts Slack refused (not counting rate limits)."""
    last_error: Mapped[str | None] = mapped_column(String(64))
    # What the message is about, for the App Home's recent failures (NULL for other kinds).
    backup_id: Mapped[int | None] = mapped_column(SkyviaId)
    backup_name: Mapped[str | None] = mapped_column(Text)
    # The outbox (docs/reference/guarantees.md#exactly-once): what to send, in which order, and
    # when it may be tried again.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """0 replies and alerts, 1 episode replies and notes, 2 edits (`bot.slack.delivery.senders`)."""
    payload: Mapped[str | None] = mapped_column(Text)
    """The Web API call as JSON (`method` and its arguments); NULL for a row the request path
    claims and posts itself (a card) until a worker owes it too."""
    target: Mapped[str | None] = mapped_column(String(64))
    """For an edit, the message it edits (channel and ts): pending edits of one target coalesce."""
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """A refused or rate-limited row waits until then (the database's clock)."""


class Subscription(Base):
    """A person's DMs about one backup (`backup_id` 0: every backup) of a channel's workspace.

    Tied to the binding it was made in (gone with it) and to the workspace it was made for, so
    a channel connected to another workspace does not carry a backup id over to a different
    backup. Removed when the person leaves the channel or the Slack workspace.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (Index(None, "user_id"),)

    binding_id: Mapped[int] = mapped_column(
        ForeignKey("bindings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    backup_id: Mapped[int] = mapped_column(SkyviaId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(SkyviaId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertTaker(Base):
    """Someone who said "I'm on it" on an alert: one row per take, `released_at` set on undo.

    A person's rows on one alert count their clicks there (a take is one, an undo another), and
    that count keys the messages each click owes, so taking, stepping back and taking again are
    three announcements, not one already sent.
    """

    __tablename__ = "alert_takers"
    __table_args__ = (
        Index(None, "team_id", "channel_id", "alert_ts"),
        Index(None, "team_id", "channel_id", "backup_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    channel_id: Mapped[str] = mapped_column(SlackId)
    alert_ts: Mapped[str] = mapped_column(SlackId)
    backup_id: Mapped[int] = mapped_column(SkyviaId)
    snapshot_id: Mapped[int] = mapped_column(SkyviaId)
    """The alert's own key: its failed snapshot, or a stale alert's last good one."""
    user_id: Mapped[str] = mapped_column(SlackId)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProcessedClick(Base):
    """A button click already acted on; the unique key stops double clicks across replicas."""

    __tablename__ = "processed_clicks"
    __table_args__ = (Index(None, "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(SlackId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StepExecution(Base):
    """A Workflow Builder step execution this bot took on: its id is the key, so a retried or
    repeated `function_executed` event, on any replica, acts once. Pruned like clicks."""

    __tablename__ = "step_executions"
    __table_args__ = (Index(None, "created_at"),)

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    callback_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One change made through the bot: who, what, where, when and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "team_id", "at"),
        Index(None, "at"),  # retention
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    team_id: Mapped[str] = mapped_column(SlackId)
    channel_id: Mapped[str | None] = mapped_column(SlackId)
    user_id: Mapped[str] = mapped_column(SlackId)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class WorkerLease(Base):
    """A job that one replica at a time runs every so often (retention): who runs it, and when next.

    One row per job, leased like watches and alert cursors (`repositories._leases`): the replica
    whose claim succeeds runs the job and sets `next_run_at`; the others find it not due or leased.
    """

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(LeaseOwner)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TimerKind(StrEnum):
    MUTE_END = "mute_end"
    """A timed mute's end: the mute goes, and the channel is told."""
    WINDOW_END = "window_end"
    """A maintenance window's end: the schedule is enabled again (unless it already is)."""
    DIGEST = "digest"
    """A channel's daily health digest (`backup_id` 0): posted, then due the next day."""


class Timer(Base):
    """Something due at a time in a channel: a timed mute's or a maintenance window's end, or
    the channel's daily digest.

    A row exists while the timer is pending; firing deletes it (fenced by the lease), so it fires
    once; a digest's row is moved to its next day instead. At most one pending timer of a kind
    per channel and backup: a new one replaces it. `payload` is a small JSON object the service
    owns. `due_at`: the next attempt (a retry moves it); `ends_at`: the end set, keying its note;
    the Skyvia workspace and token (NULL: default) it was set with, NULL workspace in old rows.
    """

    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "kind", "backup_id"),
        Index(None, "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(SlackId)
    channel_id: Mapped[str] = mapped_column(SlackId)
    backup_id: Mapped[int] = mapped_column(SkyviaId)
    workspace_id: Mapped[int | None] = mapped_column(SkyviaId, nullable=True)
    token_ciphertext: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    lease_owner: Mapped[str | None] = mapped_column(LeaseOwner)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
