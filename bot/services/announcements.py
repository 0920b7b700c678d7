"""What the watching and alerting use cases say to a channel: the port they announce through.

Why a port and not outcomes for the worker to render
----------------------------------------------------
Watching and alerting decide what to do next from how each message went: a watch finishes only
once its outcome reply is recorded, and its card is updated only after that reply; a failure's
cursor stays put until every listening channel heard it; a rejected token pauses the binding
only after the channel was told. Returning "what to say" for a worker to render and post would
cut each use case in two, with the worker holding the sequence between the halves, which is
the opposite of a worker that only schedules and leases.

So the services call an `Announcer`, the Protocol below, and get back an `Outcome`;
`bot.slack.delivery.announcer.SlackAnnouncer` implements it with the Block Kit builders
(`bot.slack.messages`) and the notifier (ledger, pacing, exactly once). The services import no
Slack library and nothing of `bot.slack`; their tests may pass a recording double.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.services.digests import DigestSetting
from bot.services.models import WatchedRun, WorkspaceHealth
from bot.skyvia.models import Snapshot
from storage.repositories import AlertRef, Episode


class Outcome(StrEnum):
    """How one announcement went (the notifier's answer, see `bot.slack.delivery.notifier`)."""

    SENT = "sent"
    """Posted now."""
    QUEUED = "queued"
    """Written to the outbox: a sender posts it at Slack's pace (`bot.slack.delivery.senders`).
    Nothing is left for the caller to do, but its `ts` is not known yet."""
    ALREADY_SENT = "already_sent"
    """Sent before: the ledger says so, or a recovery found it in Slack."""
    BUSY = "busy"
    """Someone else holds a fresh claim on it; try again later."""
    DEFERRED = "deferred"
    """Not attempted: the channel's pace, or the backoff after a refusal; try again later."""
    FAILED = "failed"
    """Slack refused it for now; retry later with backoff."""
    UNKNOWN = "unknown"
    """No answer from Slack, even when read back; the claim is kept, and goes stale for recovery."""
    PAUSED = "paused"
    """The channel cannot be posted to; its binding is paused; stop trying."""
    GAVE_UP = "gave_up"
    """Slack refused it for good (or too often): it will never be posted; stop trying."""

    @property
    def delivered(self) -> bool:
        return self in (Outcome.SENT, Outcome.ALREADY_SENT)

    @property
    def settled(self) -> bool:
        """Nothing left to try: delivered, the channel cannot be posted to, or given up."""
        return self.delivered or self in (Outcome.QUEUED, Outcome.PAUSED, Outcome.GAVE_UP)


class StepEnd(StrEnum):
    """Why a Workflow Builder step ends before its run does (its completion says so)."""

    OUTLIVED = "outlived"
    """The run is still going past the step's limit: follow it on the card."""
    GAVE_UP = "gave_up"
    """The run is no longer watched (the watch's give-up limit)."""
    VANISHED = "vanished"
    """Skyvia no longer knows the run."""
    STOPPED = "stopped"
    """The channel was disconnected or re-bound, or cannot be posted to."""


@dataclass(frozen=True)
class Channel:
    """A Slack channel of a team: where an announcement goes."""

    team_id: str
    channel_id: str
    mention_ids: tuple[str, ...] = ()
    """Slack users and user groups this channel's failure alerts mention."""


@dataclass(frozen=True)
class TimerEnded:
    """A timed mute or a maintenance window that ended: what its end note says, and its key.

    `ends_at`, the end it was set with (never the time of an attempt, which moves on every
    retry), tells this end apart from another end of the same backup's mute or window in the
    same channel, so each is delivered once. For a window, `enabled` is False when someone had
    enabled the schedule already (nothing was done); for a mute it is always True. A window that
    `by_hand` closed (someone switched the schedule, `turned_on` or off) did nothing at its end;
    one with `held_until` left the schedule off for another window on the backup that ends then;
    one that `failed` could not turn it back on, for that reason (a person must, by hand).
    """

    channel: Channel
    backup_id: int
    backup_name: str | None
    set_by: str
    words: str
    ends_at: datetime
    enabled: bool = True
    by_hand: str | None = None
    turned_on: bool = False
    held_until: datetime | None = None
    failed: str | None = None


@dataclass(frozen=True)
class DigestDue:
    """A channel's daily digest of `day` (the setter's local date), due at `at` (UTC, which
    keys it: a local day of one zone is not the same-numbered day of another)."""

    channel: Channel
    day: date
    setting: DigestSetting
    health: WorkspaceHealth
    at: datetime


class Announcer(Protocol):
    @property
    def stale_after(self) -> timedelta:
        """How long an `UNKNOWN` announcement takes to be settled by a retry."""
        ...

    async def snapshot_finished(
        self, run: WatchedRun, snapshot: Snapshot, *, without_card: bool = False
    ) -> Outcome:
        """The outcome reply in the run's thread (once); with `without_card`, a top-level
        message saying the run's card could not be posted."""
        ...

    async def post_card(
        self, run: WatchedRun, snapshot: Snapshot, now: datetime
    ) -> tuple[Outcome, str | None]:
        """The run's card (once), when the request that started it did not see it land: the
        outcome and, when delivered, the card's `ts`."""
        ...

    async def update_card(self, run: WatchedRun, snapshot: Snapshot, now: datetime) -> bool:
        """Redraws the run's card; False when it may work later (retry)."""
        ...

    async def still_running(self, run: WatchedRun, minutes: int) -> Outcome:
        """The "still running" note of a period of the run (once per period)."""
        ...

    async def gave_up(self, run: WatchedRun, hours: float) -> Outcome:
        """The note that the run is no longer watched (once)."""
        ...

    async def snapshot_vanished(self, run: WatchedRun) -> Outcome:
        """The note that Skyvia no longer knows the run, so it is no longer watched (once)."""
        ...

    async def vanished_card(self, run: WatchedRun) -> bool:
        """Redraws the run's card as not found in Skyvia; False when it may work later."""
        ...

    async def step_finished(self, run: WatchedRun, snapshot: Snapshot) -> Outcome:
        """Completes the Workflow Builder step that started the run (once): success with the
        run's outputs, or an error carrying the log's first line."""
        ...

    async def step_ended(self, run: WatchedRun, why: StepEnd) -> Outcome:
        """Completes the run's step with an error saying `why` and where to follow it (once:
        a step is completed one way only, so a later end of the run adds nothing)."""
        ...

    async def failure_alerts(
        self,
        channels: Sequence[Channel],
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
        *,
        max_wait: float,
    ) -> list[Outcome]:
        """A failed snapshot, once in each channel: one outcome per channel, in their order.

        `max_wait` bounds how long a post may wait for its channel's pace.
        """
        ...

    async def episode_failure(
        self,
        channel: Channel,
        alert_ts: str,
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
        episode: Episode,
        *,
        max_wait: float,
        takers: tuple[str, ...] = (),
    ) -> Outcome:
        """A further failure of an open episode: a reply in the alert's thread, then the
        alert's header edited to the streak (still naming who is on it: `takers`); each once.
        Settled only when both are."""
        ...

    async def episode_recovered(
        self,
        channel: Channel,
        alert_ts: str,
        backup_id: int,
        backup_name: str | None,
        episode: Episode,
    ) -> Outcome:
        """The success that closed the episode (`recovered_snapshot_id`): a "Recovered" reply
        in the alert's thread, then the header edited to "recovered"; each once."""
        ...

    async def stale_alert(
        self,
        channel: Channel,
        backup_id: int,
        backup_name: str | None,
        last_good_id: int,
        age_seconds: float | None,
        cadence_seconds: float | None,
    ) -> Outcome:
        """ "No good snapshot for …": once per stale episode (keyed by the last good snapshot)."""
        ...

    async def fresh_again(
        self,
        channel: Channel,
        alert_ts: str,
        backup_id: int,
        backup_name: str | None,
        snapshot_id: int,
    ) -> Outcome:
        """A good snapshot again: once, in the stale alert's thread."""
        ...

    async def overdue(
        self,
        channel: Channel,
        backup_id: int,
        backup_name: str | None,
        snapshot_id: int,
        running_seconds: float,
        usual_seconds: float | None,
        *,
        thread_ts: str | None,
    ) -> Outcome:
        """ "⏳ … has been running 2h 10m": once per run and channel, in the run's card thread
        (`thread_ts`, when the channel watches it) or else top-level like an alert."""
        ...

    async def overdue_end(
        self,
        channel: Channel,
        thread_ts: str,
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
    ) -> Outcome:
        """The overdue run ended ("… finished after 2h 31m"): once, in the note's thread."""
        ...

    async def token_rejected(
        self, channel: Channel, workspace_id: int, bound_at: datetime, *, own_token: bool = False
    ) -> Outcome:
        """Skyvia rejected the channel's token: once per binding (`bound_at`).

        `own_token`: the channel was bound with its own token, not the default one.
        """
        ...

    async def mute_ended(self, ended: TimerEnded) -> Outcome:
        """A timed mute ended: alerts for the backup are back on (once per mute)."""
        ...

    async def window_ended(self, ended: TimerEnded) -> Outcome:
        """A maintenance window ended: the schedule is back on, or already was (once per window)."""
        ...

    async def digest(self, due: DigestDue) -> Outcome:
        """The channel's daily health digest (once per local day)."""
        ...

    async def taker_changed(
        self, channel: Channel, alert: AlertRef, user_id: str, *, taken: bool, serial: int
    ) -> Outcome:
        """ "@dana is on it" (or stepped back) in the alert's thread: once per click, the
        person's `serial`-th on that alert."""
        ...

    async def takers_header(
        self,
        channel: Channel,
        alert: AlertRef,
        user_id: str,
        *,
        serial: int,
        takers: tuple[str, ...],
        shown: Mapping[str, Any],
    ) -> Outcome:
        """The alert (`shown`: as the click saw it) redrawn with who is on it; once per click."""
        ...

    async def personal_failure(
        self,
        team_id: str,
        user_id: str,
        channel_id: str,
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
    ) -> Outcome:
        """A subscriber's DM of a failed snapshot (once per person and snapshot)."""
        ...

    async def personal_recovery(
        self,
        team_id: str,
        user_id: str,
        channel_id: str,
        backup_id: int,
        backup_name: str | None,
        episode: Episode,
    ) -> Outcome:
        """A subscriber's DM of the success that ended an episode (once per person)."""
        ...
