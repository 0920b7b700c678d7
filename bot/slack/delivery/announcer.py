"""The services' `Announcer` in Slack: one row per kind of news, posted by the notifier.

Watching and alerting decide what happened and what to do after it is told (see
`bot.services.announcements` for why they call a port rather than return messages); this module
only says it in Slack. `PLANS` has one row per kind of news: a function drawing its parts, each
a post, an edit or a step completion with the Block Kit builder that words it
(`bot.slack.messages`), its ledger key (the channel's, with the part's snapshot and kind, which
makes it once), its thread and whether it is broadcast. A part is said only once the one before
it is settled (a header is edited after its reply is owed).

A row draws from the news and the channel's mentions alone, never its id: `owe_all` draws once
per set of mentions and owes the same message to every channel that has them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.services.announcements import (
    CardChanged,
    CardOwed,
    CardVanished,
    Channel,
    DigestDue,
    FailureContinued,
    FailureSeen,
    FreshAgain,
    MuteEnded,
    News,
    Outcome,
    OverdueEnded,
    PersonalFailure,
    PersonalRecovery,
    Recovered,
    RejectedToken,
    RunFinished,
    RunOverdue,
    RunVanished,
    StaleNoticed,
    StepEnded,
    StepFinished,
    StillRunning,
    TakerChanged,
    TakersChanged,
    WatchGaveUp,
    WindowEnded,
)
from bot.services.models import WatchedRun
from bot.services.subscriptions import DM_FAILED, DM_RECOVERED
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.delivery import steps
from bot.slack.delivery.keys import DeliveryKey, DeliveryResult
from bot.slack.delivery.notifier import Notifier
from bot.slack.messages import (
    Message,
    alerts_paused_token_notice,
    failure_alert,
    gave_up_note,
    snapshot_card,
    snapshot_outcome_reply,
    still_running_note,
    vanished_card,
    vanished_note,
)
from bot.slack.messages.episodes import (
    episode_failure_reply,
    episode_header,
    recovered_header,
    recovered_reply,
)
from bot.slack.messages.health import digest_message
from bot.slack.messages.overdue import overdue_end_reply, overdue_note
from bot.slack.messages.staleness import fresh_again_header, fresh_again_reply, stale_alert
from bot.slack.messages.subscriptions import personal_failure_dm, personal_recovery_dm
from bot.slack.messages.takers import taker_reply, with_takers
from bot.slack.messages.timers import mute_ended_note, window_ended_note
from storage.models import DeliveryKind, card_edit_kind, note_kind
from storage.repositories.deliveries import Subject

log = logging.getLogger(__name__)

BROADCAST = frozenset({SnapshotState.FAILED, SnapshotState.CANCELED})
"""Outcome replies also shown in the channel, not only in the thread."""

Mentions = tuple[str, ...]


@dataclass(frozen=True)
class Post:
    """A message posted once under the channel's key of (`serial`, `kind`)."""

    serial: int
    kind: str
    message: Message
    thread_ts: str | None = None
    broadcast: bool = False
    subject: Subject | None = None
    """The backup an alert is about, recorded with its claim (`DeliveryKey.subject`)."""


@dataclass(frozen=True)
class Edit:
    """A `chat.update` of the message `ts`, once under the channel's key of (`serial`, `kind`);
    pending edits of one message coalesce to the latest."""

    serial: int
    kind: str
    ts: str
    message: Message


@dataclass(frozen=True)
class Complete:
    """A Workflow Builder step completed once, under the run's `step_done` key
    (`bot.slack.delivery.steps`)."""

    serial: int
    completion: steps.Completion


Plan = tuple[Post | Edit | Complete, ...]
"""What one piece of news is in one channel, in order; empty when there is nothing to say."""


def _card(run: WatchedRun, snapshot: Snapshot, now: datetime) -> Message:
    """The lifecycle card; a finished run's also shows its duration and row counts."""
    final = snapshot.state.is_terminal
    return snapshot_card(
        run.backup_id,
        run.backup_name,
        run.snapshot_id,
        snapshot.state,
        run.started_by,
        run.started_at,
        now,
        duration_s=snapshot.duration_seconds if final else None,
        rows=snapshot.success_rows if final else None,
        errors=snapshot.error_rows if final else None,
        workflow=run.step.workflow_title if run.step is not None else None,
    )


def _run_finished(news: RunFinished, _: Mentions) -> Plan:
    run, snapshot, without_card = news.run, news.snapshot, news.without_card
    reply = snapshot_outcome_reply(
        run.backup_id, run.backup_name, snapshot, run.started_by, without_card=without_card
    )
    broadcast = snapshot.state in BROADCAST and not without_card
    thread = None if without_card else run.thread_ts
    return (Post(run.snapshot_id, DeliveryKind.THREAD_REPLY, reply, thread, broadcast),)


def _card_owed(news: CardOwed, _: Mentions) -> Plan:
    """The card the request could not post, under the same key: a claim the request kept
    (no answer) is read back by its metadata once stale, so it is never posted twice. A
    retry's card goes (and is looked for) in the failure's thread, as the request posted it."""
    run = news.run
    card = _card(run, news.snapshot, news.now)
    return (Post(run.snapshot_id, DeliveryKind.CARD, card, run.card_thread_ts),)


def _card_changed(news: CardChanged, _: Mentions) -> Plan:
    """Owed once per state the card shows."""
    run, state = news.run, news.snapshot.state
    if run.message_ts is None:
        return ()  # no card to redraw
    card = _card(run, news.snapshot, news.now)
    return (Edit(run.snapshot_id, card_edit_kind(state.value), run.message_ts, card),)


def _still_running(news: StillRunning, _: Mentions) -> Plan:
    run, note = news.run, still_running_note(news.minutes)
    return (Post(run.snapshot_id, note_kind(news.minutes), note, run.thread_ts),)


def _watch_gave_up(news: WatchGaveUp, _: Mentions) -> Plan:
    run, note = news.run, gave_up_note(news.hours, news.run.backup_id)
    return (Post(run.snapshot_id, DeliveryKind.GAVE_UP, note, run.thread_ts),)


def _run_vanished(news: RunVanished, _: Mentions) -> Plan:
    run = news.run
    return (
        Post(run.snapshot_id, DeliveryKind.VANISHED, vanished_note(run.backup_id), run.thread_ts),
    )


def _card_vanished(news: CardVanished, _: Mentions) -> Plan:
    run = news.run
    if run.message_ts is None:
        return ()  # no card to end
    card = vanished_card(
        run.backup_id, run.backup_name, run.snapshot_id, run.started_by, run.started_at
    )
    return (Edit(run.snapshot_id, card_edit_kind("vanished"), run.message_ts, card),)


def _step_finished(news: StepFinished, _: Mentions) -> Plan:
    run = news.run
    if run.step is None:
        return ()
    return (Complete(run.snapshot_id, steps.finished(run, run.step, news.snapshot)),)


def _step_ended(news: StepEnded, _: Mentions) -> Plan:
    run = news.run
    if run.step is None:
        return ()
    return (Complete(run.snapshot_id, steps.ended(run, run.step, news.why)),)


def _failure_seen(news: FailureSeen, mentions: Mentions) -> Plan:
    snapshot = news.snapshot
    alert = failure_alert(
        news.backup_id,
        news.backup_name,
        snapshot,
        by_schedule=bool(snapshot.run_by_schedule),
        mention_ids=mentions,
    )
    subject = (news.backup_id, news.backup_name)
    return (Post(snapshot.snapshot_id, DeliveryKind.ALERT, alert, subject=subject),)


def _failure_continued(news: FailureContinued, mentions: Mentions) -> Plan:
    snapshot_id = news.snapshot.snapshot_id
    reply = episode_failure_reply(news.backup_id, news.backup_name, news.snapshot, news.failures)
    header = episode_header(
        news.backup_id,
        news.backup_name,
        news.failures,
        news.since,
        snapshot_id,
        mentions,
        first_id=news.first_snapshot_id,
        takers=news.takers,
    )
    return (
        Post(snapshot_id, DeliveryKind.EPISODE_REPLY, reply, news.alert_ts),
        Edit(snapshot_id, DeliveryKind.EPISODE_HEADER, news.alert_ts, header),
    )


def _recovered(news: Recovered, _: Mentions) -> Plan:
    snapshot_id = news.snapshot_id
    reply = recovered_reply(snapshot_id, news.failures, news.failing_for)
    header = recovered_header(news.backup_id, news.backup_name, news.failures, snapshot_id)
    return (
        Post(snapshot_id, DeliveryKind.RECOVERED, reply, news.alert_ts),
        Edit(snapshot_id, DeliveryKind.RECOVERED_HEADER, news.alert_ts, header),
    )


def _stale_noticed(news: StaleNoticed, mentions: Mentions) -> Plan:
    alert = stale_alert(
        news.backup_id,
        news.backup_name,
        news.age_seconds,
        news.cadence_seconds,
        mentions,
        snapshot_id=news.last_good_id,
    )
    return (Post(news.last_good_id, DeliveryKind.STALE, alert),)


def _fresh_again(news: FreshAgain, _: Mentions) -> Plan:
    """Keyed by the good snapshot, as `_recovered` is for failures."""
    backup_id, name, snapshot_id = news.backup_id, news.backup_name, news.snapshot_id
    return (
        Post(
            snapshot_id,
            DeliveryKind.FRESH,
            fresh_again_reply(backup_id, name, snapshot_id),
            news.alert_ts,
        ),
        Edit(
            snapshot_id,
            DeliveryKind.FRESH_HEADER,
            news.alert_ts,
            fresh_again_header(backup_id, name, snapshot_id),
        ),
    )


def _run_overdue(news: RunOverdue, mentions: Mentions) -> Plan:
    """Mentions only top-level, like an alert: a card's thread has its own watchers."""
    note = overdue_note(
        news.backup_id,
        news.backup_name,
        news.snapshot_id,
        news.running_seconds,
        news.usual_seconds,
        () if news.thread_ts else mentions,
    )
    return (Post(news.snapshot_id, DeliveryKind.OVERDUE, note, news.thread_ts),)


def _overdue_ended(news: OverdueEnded, _: Mentions) -> Plan:
    reply = overdue_end_reply(news.backup_id, news.backup_name, news.snapshot)
    return (Post(news.snapshot.snapshot_id, DeliveryKind.OVERDUE_END, reply, news.thread_ts),)


def _rejected_token(news: RejectedToken, _: Mentions) -> Plan:
    """Once per binding: its creation time tells a reconnected channel's binding apart."""
    serial = int(news.bound_at.timestamp()) % 2**31
    notice = alerts_paused_token_notice(news.workspace_id, own_token=news.own_token)
    return (Post(serial, DeliveryKind.REVOKED, notice),)


def _personal_failure(news: PersonalFailure, _: Mentions) -> Plan:
    """A DM: `chat.postMessage` to the person's user id posts in their DM with the app. The
    person's id is the ledger's "channel", so it is once per person and snapshot."""
    snapshot = news.snapshot
    dm = personal_failure_dm(
        news.channel_id, news.backup_id, news.backup_name, snapshot, by_all=news.by_all
    )
    return (Post(snapshot.snapshot_id, DM_FAILED, dm),)


def _personal_recovery(news: PersonalRecovery, _: Mentions) -> Plan:
    dm = personal_recovery_dm(
        news.channel_id,
        news.backup_id,
        news.backup_name,
        snapshot_id=news.snapshot_id,
        failures=news.failures,
        failing_for=news.failing_for,
        by_all=news.by_all,
    )
    return (Post(news.snapshot_id, DM_RECOVERED, dm),)


def _timer_kind(prefix: str, ends_at: datetime) -> str:
    """Once per end: the backup and the end it was set with (a new mute or window is a new
    end; a retry, which moves only the timer's next attempt, is the same end)."""
    return f"{prefix}:{int(ends_at.timestamp())}"


def _mute_ended(news: MuteEnded, _: Mentions) -> Plan:
    kind = _timer_kind("mute_end", news.ends_at)
    return (Post(news.backup_id, kind, mute_ended_note(news)),)


def _window_ended(news: WindowEnded, _: Mentions) -> Plan:
    kind = _timer_kind("window_end", news.ends_at)
    return (Post(news.backup_id, kind, window_ended_note(news)),)


def _digest_due(news: DigestDue, _: Mentions) -> Plan:
    """Once per local day, by its moment: a digest retried after a crash is still that day's,
    and Tokyo's 6 January is not Los Angeles's (`bot.services.digests`)."""
    moment = news.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return (Post(0, f"digest:{moment}", digest_message(news)),)


def taker_kind(prefix: str, user_id: str, serial: int) -> str:
    """`take:U123:2`: a person's `serial`-th click on an alert (fits the ledger's 32 characters
    for Slack's user ids; a longer id is shortened to a stable digest of itself)."""
    who = user_id if len(user_id) <= 16 else hashlib.sha256(user_id.encode()).hexdigest()[:16]
    return f"{prefix}:{who}:{serial}"


def _taker_changed(news: TakerChanged, _: Mentions) -> Plan:
    """The thread reply names the others on it too; they are read at the click, so a
    simultaneous click of someone else may be missing from it (the header has them all)."""
    kind = taker_kind("take" if news.taken else "untake", news.user_id, news.serial)
    reply = taker_reply(news.user_id, news.taken, (news.user_id,) if news.taken else ())
    return (Post(news.snapshot_id, kind, reply, news.alert_ts),)


def _takers_changed(news: TakersChanged, _: Mentions) -> Plan:
    kind = taker_kind("takeh", news.user_id, news.serial)
    return (Edit(news.snapshot_id, kind, news.alert_ts, with_takers(news.shown, news.takers)),)


PLANS: Mapping[type, Callable[[Any, Mentions], Plan]] = {
    RunFinished: _run_finished,
    CardOwed: _card_owed,
    CardChanged: _card_changed,
    StillRunning: _still_running,
    WatchGaveUp: _watch_gave_up,
    RunVanished: _run_vanished,
    CardVanished: _card_vanished,
    StepFinished: _step_finished,
    StepEnded: _step_ended,
    FailureSeen: _failure_seen,
    FailureContinued: _failure_continued,
    Recovered: _recovered,
    StaleNoticed: _stale_noticed,
    FreshAgain: _fresh_again,
    RunOverdue: _run_overdue,
    OverdueEnded: _overdue_ended,
    RejectedToken: _rejected_token,
    PersonalFailure: _personal_failure,
    PersonalRecovery: _personal_recovery,
    MuteEnded: _mute_ended,
    WindowEnded: _window_ended,
    DigestDue: _digest_due,
    TakerChanged: _taker_changed,
    TakersChanged: _takers_changed,
}
"""How each kind of news reads in a channel, and under which keys (see module docstring)."""


def plan_of(news: News, mentions: Mentions) -> Plan:
    return PLANS[type(news)](news, mentions)


class SlackAnnouncer:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    @property
    def stale_after(self) -> timedelta:
        return self._notifier.stale_after

    async def owe(self, news: News, to: Channel) -> Outcome:
        return (await self._say(plan_of(news, to.mention_ids), to)).outcome

    async def owe_with_ts(self, news: News, to: Channel) -> tuple[Outcome, str | None]:
        result = await self._say(plan_of(news, to.mention_ids), to)
        return result.outcome, result.ts

    async def owe_all(self, news: News, to: Sequence[Channel]) -> list[Outcome]:
        """Draws the news once per set of mentions and owes it to every channel at once.

        Most channels mention nobody and share one message (validated once); each distinct set
        of mentions gets its own. A channel whose owing raised counts as `FAILED` alone
        (logged), as a refusal would.
        """
        drawn: dict[Mentions, Plan] = {}

        def plan_for(channel: Channel) -> Plan:
            plan = drawn.get(channel.mention_ids)
            if plan is None:
                plan = drawn[channel.mention_ids] = plan_of(news, channel.mention_ids)
            return plan

        results = await asyncio.gather(
            *(self._say(plan_for(c), c) for c in to), return_exceptions=True
        )
        outcomes: list[Outcome] = []
        for channel, result in zip(to, results, strict=True):
            if isinstance(result, Exception):
                log.error(
                    "%s for %s failed", type(news).__name__, channel.channel_id, exc_info=result
                )
                outcomes.append(Outcome.FAILED)
            elif isinstance(result, BaseException):
                raise result
            else:
                outcomes.append(result.outcome)
        return outcomes

    async def _say(self, plan: Plan, to: Channel) -> DeliveryResult:
        """Owes each part in turn while the one before is settled; nothing to say is
        `GAVE_UP` (there is nothing to try)."""
        result = DeliveryResult(Outcome.GAVE_UP)
        for part in plan:
            result = await self._part(part, to)
            if not result.settled:
                break
        return result

    async def _part(self, part: Post | Edit | Complete, to: Channel) -> DeliveryResult:
        notifier = self._notifier
        if isinstance(part, Post):
            key = DeliveryKey(to.team_id, to.channel_id, part.serial, part.kind, part.subject)
            return await notifier.deliver(
                key, part.message, thread_ts=part.thread_ts, broadcast=part.broadcast
            )
        if isinstance(part, Edit):
            key = DeliveryKey(to.team_id, to.channel_id, part.serial, part.kind)
            return DeliveryResult(await notifier.update_once(key, part.ts, part.message))
        if notifier.steps is None:
            return DeliveryResult(Outcome.GAVE_UP)
        key = DeliveryKey(to.team_id, to.channel_id, part.serial, DeliveryKind.STEP_DONE)
        return DeliveryResult(await notifier.steps.owe(key, part.completion))
