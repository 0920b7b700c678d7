"""What the watching and alerting use cases tell a channel: the news, and the port it goes through.

Why a port and not outcomes for the worker to render
----------------------------------------------------
Watching and alerting decide what to do next from how each message went: a watch finishes only
once its outcome reply is recorded, and its card is updated only after that reply; a failure's
cursor stays put until every listening channel heard it; a rejected token pauses the binding
only after the channel was told. Returning "what to say" for a worker to render and post would
cut each use case in two, with the worker holding the sequence between the halves, which is
the opposite of a worker that only schedules and leases.

What a service says through it
------------------------------
A service records *what happened*, one frozen dataclass below per kind of news, in its own
terms (ids, counts, times: never a storage row nor a word of Slack), and owes it to a
`Channel`: `await announcer.owe(StaleNoticed(...), to=channel)`, getting back an `Outcome`.
How it reads, the ledger key that makes it once, the thread it goes in and whether a header is
edited after it are the adapter's: `bot.slack.delivery.announcer.SlackAnnouncer` holds one row
per kind of news (its Block Kit builder from `bot.slack.messages`, its delivery kinds), posted
by the notifier (ledger, pacing, exactly once). A new announcement is a dataclass here, a
builder there and that row. The services import no Slack library and nothing of `bot.slack`;
their tests may pass a recording double.
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
    """A Slack channel of a team: where news goes (for a DM, the person's user id)."""

    team_id: str
    channel_id: str
    mention_ids: tuple[str, ...] = ()
    """Slack users and user groups this channel's failure alerts mention."""


# --- A run started from Slack (`bot.services.watching`): each once per run, by its snapshot.


@dataclass(frozen=True)
class RunFinished:
    """The run ended: the outcome reply in its thread; with `without_card`, a top-level message
    saying the run's card could not be posted."""

    run: WatchedRun
    snapshot: Snapshot
    without_card: bool = False


@dataclass(frozen=True)
class CardOwed:
    """The run's card, when the request that started it did not see it land (`owe_with_ts`
    gives its `ts`)."""

    run: WatchedRun
    snapshot: Snapshot
    now: datetime


@dataclass(frozen=True)
class CardChanged:
    """The run's card redrawn to `snapshot`'s state (once per state); nothing while no card."""

    run: WatchedRun
    snapshot: Snapshot
    now: datetime


@dataclass(frozen=True)
class StillRunning:
    """The "still running" note of one period of the run (`minutes` names the period)."""

    run: WatchedRun
    minutes: int


@dataclass(frozen=True)
class WatchGaveUp:
    """The run is no longer watched, after `hours`."""

    run: WatchedRun
    hours: float


@dataclass(frozen=True)
class RunVanished:
    """Skyvia no longer knows the run, so it is no longer watched: the note in its thread."""

    run: WatchedRun


@dataclass(frozen=True)
class CardVanished:
    """The run's card redrawn as not found in Skyvia; nothing while no card."""

    run: WatchedRun


@dataclass(frozen=True)
class StepFinished:
    """Completes the Workflow Builder step that started the run: success with the run's
    outputs, or an error carrying the log's first line. `GAVE_UP` when the run has no step."""

    run: WatchedRun
    snapshot: Snapshot


@dataclass(frozen=True)
class StepEnded:
    """Completes the run's step with an error saying `why` and where to follow it (a step is
    completed one way only, so a later end of the run adds nothing)."""

    run: WatchedRun
    why: StepEnd


# --- The alert scanner's (`bot.services.alerting`): each once per channel and snapshot.


@dataclass(frozen=True)
class FailureSeen:
    """A failed snapshot: the failure alert, which opens an episode (`owe_all` tells every
    listening channel at once)."""

    backup_id: int
    backup_name: str | None
    snapshot: Snapshot


@dataclass(frozen=True)
class FailureContinued:
    """A further failure of an open episode, the `failures`-th since `since`: a reply in the
    alert's thread (`alert_ts`), then the alert's header edited to the streak, still naming who
    is on it (`takers`). Settled only when both are."""

    alert_ts: str
    backup_id: int
    backup_name: str | None
    snapshot: Snapshot
    failures: int
    since: datetime
    first_snapshot_id: int
    takers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recovered:
    """The success (`snapshot_id`) that closed an episode of `failures` failures over
    `failing_for` seconds: a "Recovered" reply in the alert's thread, then its header edited."""

    alert_ts: str
    backup_id: int
    backup_name: str | None
    snapshot_id: int
    failures: int
    failing_for: float


@dataclass(frozen=True)
class StaleNoticed:
    """ "No good snapshot for …": once per stale episode, keyed by the last good snapshot."""

    backup_id: int
    backup_name: str | None
    last_good_id: int
    age_seconds: float | None
    cadence_seconds: float | None


@dataclass(frozen=True)
class FreshAgain:
    """A good snapshot again (`snapshot_id`): a reply in the stale alert's thread, then its
    first line edited to "fresh again"."""

    alert_ts: str
    backup_id: int
    backup_name: str | None
    snapshot_id: int


@dataclass(frozen=True)
class RunOverdue:
    """ "⏳ … has been running 2h 10m": in the run's card thread (`thread_ts`, when the channel
    watches it) or else top-level like an alert."""

    backup_id: int
    backup_name: str | None
    snapshot_id: int
    running_seconds: float
    usual_seconds: float | None
    thread_ts: str | None


@dataclass(frozen=True)
class OverdueEnded:
    """The overdue run ended ("… finished after 2h 31m"): in the note's thread."""

    thread_ts: str
    backup_id: int
    backup_name: str | None
    snapshot: Snapshot


@dataclass(frozen=True)
class RejectedToken:
    """Skyvia rejected the channel's token: once per binding (`bound_at`). `own_token`: the
    channel was bound with its own token, not the default one."""

    workspace_id: int
    bound_at: datetime
    own_token: bool = False


@dataclass(frozen=True)
class PersonalFailure:
    """A subscriber's DM (owed to the person's id) of a failed snapshot the channel
    `channel_id` heard: once per person and snapshot."""

    channel_id: str
    backup_id: int
    backup_name: str | None
    snapshot: Snapshot
    by_all: bool = False
    """The person follows every backup of the channel (then only `unsubscribe all` stops it)."""


@dataclass(frozen=True)
class PersonalRecovery:
    """A subscriber's DM of the success (`snapshot_id`) that ended an episode: once per person."""

    channel_id: str
    backup_id: int
    backup_name: str | None
    snapshot_id: int
    failures: int
    failing_for: float | None
    by_all: bool = False
    """As `PersonalFailure.by_all`."""


# --- Timers (`bot.services.timers`) and takers (`bot.services.takers`).


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
class MuteEnded(TimerEnded):
    """A timed mute ended: alerts for the backup are back on."""


@dataclass(frozen=True)
class WindowEnded(TimerEnded):
    """A maintenance window ended: the schedule is back on, or already was."""


@dataclass(frozen=True)
class DigestDue:
    """A channel's daily digest of `day` (the setter's local date), due at `at` (UTC, which
    keys it: a local day of one zone is not the same-numbered day of another)."""

    day: date
    setting: DigestSetting
    health: WorkspaceHealth
    at: datetime


@dataclass(frozen=True)
class TakerChanged:
    """ "@dana is on it" (or stepped back) in the alert's thread: once per click, the person's
    `serial`-th on the alert of `snapshot_id`."""

    alert_ts: str
    snapshot_id: int
    user_id: str
    taken: bool
    serial: int


@dataclass(frozen=True)
class TakersChanged:
    """The alert (`shown`: as the click saw it) redrawn with who is on it; once per click."""

    alert_ts: str
    snapshot_id: int
    user_id: str
    serial: int
    takers: tuple[str, ...]
    shown: Mapping[str, Any]


News = (
    RunFinished
    | CardOwed
    | CardChanged
    | StillRunning
    | WatchGaveUp
    | RunVanished
    | CardVanished
    | StepFinished
    | StepEnded
    | FailureSeen
    | FailureContinued
    | Recovered
    | StaleNoticed
    | FreshAgain
    | RunOverdue
    | OverdueEnded
    | RejectedToken
    | PersonalFailure
    | PersonalRecovery
    | MuteEnded
    | WindowEnded
    | DigestDue
    | TakerChanged
    | TakersChanged
)
"""Everything a service may owe a channel; the adapter has one row for each."""


class Announcer(Protocol):
    @property
    def stale_after(self) -> timedelta:
        """How long an `UNKNOWN` announcement takes to be settled by a retry."""
        ...

    async def owe(self, news: News, to: Channel) -> Outcome:
        """Owes `news` to `to`, once (a second owing finds it owed or sent): how it went.

        News told in two parts (a reply, then a header edit) is settled only when both are;
        news with nothing to say there (no card to redraw, no step to complete) is `GAVE_UP`.
        """
        ...

    async def owe_all(self, news: News, to: Sequence[Channel]) -> list[Outcome]:
        """The same news to each channel at once: one outcome per channel, in their order (a
        channel whose post raised is `FAILED` alone)."""
        ...

    async def owe_with_ts(self, news: News, to: Channel) -> tuple[Outcome, str | None]:
        """As `owe`, with the `ts` of its post once delivered (a card the service keeps)."""
        ...
