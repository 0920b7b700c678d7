"""The services' `Announcer` in Slack: Block Kit from `bot.slack.messages`, posted by the notifier.

Watching and alerting decide what to say and what to do after it (see
`bot.services.announcements` for why they call a port rather than return messages); this module
only says it in Slack: which builder draws it, which ledger key makes it once, which thread it
goes in, and whether it is broadcast to the channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.services.announcements import Channel, DigestDue, Outcome, StepEnd, TimerEnded
from bot.services.models import RunStep, WatchedRun
from bot.services.subscriptions import DM_FAILED, DM_RECOVERED
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.delivery import steps
from bot.slack.delivery.keys import DeliveryKey
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
from storage.repositories import AlertRef, Episode

log = logging.getLogger(__name__)

BROADCAST = frozenset({SnapshotState.FAILED, SnapshotState.CANCELED})
"""Outcome replies also shown in the channel, not only in the thread."""


def revocation_key(channel: Channel, bound_at: datetime) -> DeliveryKey:
    """Once per binding: its creation time tells a reconnected channel's binding apart."""
    serial = int(bound_at.timestamp()) % 2**31
    return DeliveryKey(channel.team_id, channel.channel_id, serial, DeliveryKind.REVOKED)


def timer_key(ended: TimerEnded, kind: str) -> DeliveryKey:
    """Once per end: the backup and the end it was set with (a new mute or window is a new
    end; a retry, which moves only the timer's next attempt, is the same end)."""
    serial = int(ended.ends_at.timestamp())
    return DeliveryKey(
        ended.channel.team_id, ended.channel.channel_id, ended.backup_id, f"{kind}:{serial}"
    )


def digest_key(due: DigestDue) -> DeliveryKey:
    """Once per local day, by its moment: a digest retried after a crash is still that day's,
    and Tokyo's 6 January is not Los Angeles's (`bot.services.digests`)."""
    channel = due.channel
    moment = due.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return DeliveryKey(channel.team_id, channel.channel_id, 0, f"digest:{moment}")


def taker_kind(prefix: str, user_id: str, serial: int) -> str:
    """`take:U123:2`: a person's `serial`-th click on an alert (fits the ledger's 32 characters
    for Slack's user ids; a longer id is shortened to a stable digest of itself)."""
    who = user_id if len(user_id) <= 16 else hashlib.sha256(user_id.encode()).hexdigest()[:16]
    return f"{prefix}:{who}:{serial}"


def _run_key(run: WatchedRun, kind: str) -> DeliveryKey:
    return DeliveryKey(run.team_id, run.channel_id, run.snapshot_id, kind)


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


class SlackAnnouncer:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    @property
    def stale_after(self) -> timedelta:
        return self._notifier.stale_after

    async def snapshot_finished(
        self, run: WatchedRun, snapshot: Snapshot, *, without_card: bool = False
    ) -> Outcome:
        reply = snapshot_outcome_reply(
            run.backup_id, run.backup_name, snapshot, run.started_by, without_card=without_card
        )
        result = await self._notifier.deliver(
            _run_key(run, DeliveryKind.THREAD_REPLY),
            reply,
            thread_ts=None if without_card else run.thread_ts,
            broadcast=snapshot.state in BROADCAST and not without_card,
        )
        return result.outcome

    async def post_card(
        self, run: WatchedRun, snapshot: Snapshot, now: datetime
    ) -> tuple[Outcome, str | None]:
        """The card the request could not post, under the same key: a claim the request kept
        (no answer) is read back by its metadata once stale, so it is never posted twice. A
        retry's card goes (and is looked for) in the failure's thread, as the request posted it."""
        result = await self._notifier.deliver(
            _run_key(run, DeliveryKind.CARD),
            _card(run, snapshot, now),
            thread_ts=run.card_thread_ts,
        )
        return result.outcome, result.ts

    async def update_card(self, run: WatchedRun, snapshot: Snapshot, now: datetime) -> bool:
        """The card of a finished run also shows its duration and row counts. Owed once per
        state the card shows; pending edits of the card coalesce to the latest."""
        if run.message_ts is None:
            return True  # no card to redraw
        key = _run_key(run, card_edit_kind(snapshot.state.value))
        outcome = await self._notifier.update_once(key, run.message_ts, _card(run, snapshot, now))
        return outcome.settled

    async def still_running(self, run: WatchedRun, minutes: int) -> Outcome:
        result = await self._notifier.deliver(
            _run_key(run, note_kind(minutes)), still_running_note(minutes), thread_ts=run.thread_ts
        )
        return result.outcome

    async def gave_up(self, run: WatchedRun, hours: float) -> Outcome:
        result = await self._notifier.deliver(
            _run_key(run, DeliveryKind.GAVE_UP),
            gave_up_note(hours, run.backup_id),
            thread_ts=run.thread_ts,
        )
        return result.outcome

    async def snapshot_vanished(self, run: WatchedRun) -> Outcome:
        result = await self._notifier.deliver(
            _run_key(run, DeliveryKind.VANISHED),
            vanished_note(run.backup_id),
            thread_ts=run.thread_ts,
        )
        return result.outcome

    async def vanished_card(self, run: WatchedRun) -> bool:
        if run.message_ts is None:
            return True  # no card to end
        card = vanished_card(
            run.backup_id, run.backup_name, run.snapshot_id, run.started_by, run.started_at
        )
        key = _run_key(run, card_edit_kind("vanished"))
        return (await self._notifier.update_once(key, run.message_ts, card)).settled

    async def step_finished(self, run: WatchedRun, snapshot: Snapshot) -> Outcome:
        return await self._complete(run, lambda step: steps.finished(run, step, snapshot))

    async def step_ended(self, run: WatchedRun, why: StepEnd) -> Outcome:
        return await self._complete(run, lambda step: steps.ended(run, step, why))

    async def _complete(
        self, run: WatchedRun, completion: Callable[[RunStep], steps.Completion]
    ) -> Outcome:
        """Owes the step's completion under the run's `step_done` key
        (`bot.slack.delivery.steps`)."""
        completer = self._notifier.steps
        if run.step is None or completer is None:
            return Outcome.GAVE_UP
        key = _run_key(run, DeliveryKind.STEP_DONE)
        return await completer.owe(key, completion(run.step))

    async def failure_alerts(
        self,
        channels: Sequence[Channel],
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
        *,
        max_wait: float,
    ) -> list[Outcome]:
        """Draws the alert once per set of mentions and posts it to every channel at once.

        Most channels mention nobody and share one message (validated once); each distinct set
        of mentions gets its own. A post that raised counts as `FAILED` for its channel alone
        (logged), as a refusal would.
        """
        drawn: dict[tuple[str, ...], Message] = {}

        def message_for(channel: Channel) -> Message:
            message = drawn.get(channel.mention_ids)
            if message is None:
                message = drawn[channel.mention_ids] = failure_alert(
                    backup_id,
                    backup_name,
                    snapshot,
                    by_schedule=bool(snapshot.run_by_schedule),
                    mention_ids=channel.mention_ids,
                )
            return message

        results = await asyncio.gather(
            *(
                self._notifier.deliver(
                    DeliveryKey(
                        c.team_id,
                        c.channel_id,
                        snapshot.snapshot_id,
                        DeliveryKind.ALERT,
                        subject=(backup_id, backup_name),
                    ),
                    message_for(c),
                )
                for c in channels
            ),
            return_exceptions=True,
        )
        outcomes: list[Outcome] = []
        for result in results:
            if isinstance(result, Exception):
                log.error("alert for snapshot %s failed", snapshot.snapshot_id, exc_info=result)
                outcomes.append(Outcome.FAILED)
            elif isinstance(result, BaseException):
                raise result
            else:
                outcomes.append(result.outcome)
        return outcomes

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
        def key(kind: str) -> DeliveryKey:
            return DeliveryKey(channel.team_id, channel.channel_id, snapshot.snapshot_id, kind)

        reply = await self._notifier.deliver(
            key(DeliveryKind.EPISODE_REPLY),
            episode_failure_reply(backup_id, backup_name, snapshot, episode.failures),
            thread_ts=alert_ts,
        )
        if not reply.settled:
            return reply.outcome
        header = episode_header(
            backup_id,
            backup_name,
            episode.failures,
            episode.since,
            snapshot.snapshot_id,
            channel.mention_ids,
            first_id=episode.first_snapshot_id,
            takers=takers,
        )
        return await self._notifier.update_once(key(DeliveryKind.EPISODE_HEADER), alert_ts, header)

    async def episode_recovered(
        self,
        channel: Channel,
        alert_ts: str,
        backup_id: int,
        backup_name: str | None,
        episode: Episode,
    ) -> Outcome:
        snapshot_id, failing_for = episode.recovered_snapshot_id, episode.failing_for
        assert snapshot_id is not None and failing_for is not None

        def key(kind: str) -> DeliveryKey:
            return DeliveryKey(channel.team_id, channel.channel_id, snapshot_id, kind)

        reply = await self._notifier.deliver(
            key(DeliveryKind.RECOVERED),
            recovered_reply(snapshot_id, episode.failures, failing_for),
            thread_ts=alert_ts,
        )
        if not reply.settled:
            return reply.outcome
        header = recovered_header(backup_id, backup_name, episode.failures, snapshot_id)
        return await self._notifier.update_once(
            key(DeliveryKind.RECOVERED_HEADER), alert_ts, header
        )

    async def stale_alert(
        self,
        channel: Channel,
        backup_id: int,
        backup_name: str | None,
        last_good_id: int,
        age_seconds: float | None,
        cadence_seconds: float | None,
    ) -> Outcome:
        result = await self._notifier.deliver(
            DeliveryKey(channel.team_id, channel.channel_id, last_good_id, DeliveryKind.STALE),
            stale_alert(
                backup_id,
                backup_name,
                age_seconds,
                cadence_seconds,
                channel.mention_ids,
                snapshot_id=last_good_id,
            ),
        )
        return result.outcome

    async def fresh_again(
        self,
        channel: Channel,
        alert_ts: str,
        backup_id: int,
        backup_name: str | None,
        snapshot_id: int,
    ) -> Outcome:
        """The reply in the stale alert's thread, then its first line edited to "fresh again"
        (each once, keyed by the good snapshot), as `episode_recovered` does for failures."""

        def key(kind: str) -> DeliveryKey:
            return DeliveryKey(channel.team_id, channel.channel_id, snapshot_id, kind)

        reply = await self._notifier.deliver(
            key(DeliveryKind.FRESH),
            fresh_again_reply(backup_id, backup_name, snapshot_id),
            thread_ts=alert_ts,
        )
        if not reply.settled:
            return reply.outcome
        header = fresh_again_header(backup_id, backup_name, snapshot_id)
        return await self._notifier.update_once(key(DeliveryKind.FRESH_HEADER), alert_ts, header)

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
        note = overdue_note(
            backup_id,
            backup_name,
            snapshot_id,
            running_seconds,
            usual_seconds,
            () if thread_ts else channel.mention_ids,
        )
        result = await self._notifier.deliver(
            DeliveryKey(channel.team_id, channel.channel_id, snapshot_id, DeliveryKind.OVERDUE),
            note,
            thread_ts=thread_ts,
        )
        return result.outcome

    async def overdue_end(
        self,
        channel: Channel,
        thread_ts: str,
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
    ) -> Outcome:
        key = DeliveryKey(
            channel.team_id, channel.channel_id, snapshot.snapshot_id, DeliveryKind.OVERDUE_END
        )
        reply = overdue_end_reply(backup_id, backup_name, snapshot)
        result = await self._notifier.deliver(key, reply, thread_ts=thread_ts)
        return result.outcome

    async def token_rejected(
        self, channel: Channel, workspace_id: int, bound_at: datetime, *, own_token: bool = False
    ) -> Outcome:
        result = await self._notifier.deliver(
            revocation_key(channel, bound_at),
            alerts_paused_token_notice(workspace_id, own_token=own_token),
        )
        return result.outcome

    async def mute_ended(self, ended: TimerEnded) -> Outcome:
        result = await self._notifier.deliver(timer_key(ended, "mute_end"), mute_ended_note(ended))
        return result.outcome

    async def window_ended(self, ended: TimerEnded) -> Outcome:
        note = window_ended_note(ended)
        result = await self._notifier.deliver(timer_key(ended, "window_end"), note)
        return result.outcome

    async def digest(self, due: DigestDue) -> Outcome:
        result = await self._notifier.deliver(digest_key(due), digest_message(due))
        return result.outcome

    async def taker_changed(
        self, channel: Channel, alert: AlertRef, user_id: str, *, taken: bool, serial: int
    ) -> Outcome:
        """The thread reply names the others on it too; they are read at the click, so a
        simultaneous click of someone else may be missing from it (the header has them all)."""
        kind = taker_kind("take" if taken else "untake", user_id, serial)
        key = DeliveryKey(channel.team_id, channel.channel_id, alert.snapshot_id, kind)
        reply = taker_reply(user_id, taken, (user_id,) if taken else ())
        result = await self._notifier.deliver(key, reply, thread_ts=alert.alert_ts)
        return result.outcome

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
        key = DeliveryKey(
            channel.team_id,
            channel.channel_id,
            alert.snapshot_id,
            taker_kind("takeh", user_id, serial),
        )
        return await self._notifier.update_once(key, alert.alert_ts, with_takers(shown, takers))

    async def personal_failure(
        self,
        team_id: str,
        user_id: str,
        channel_id: str,
        backup_id: int,
        backup_name: str | None,
        snapshot: Snapshot,
    ) -> Outcome:
        """A DM: `chat.postMessage` to the person's user id posts in their DM with the app.
        The person's id is the ledger's "channel", so it is once per person and snapshot."""
        result = await self._notifier.deliver(
            DeliveryKey(team_id, user_id, snapshot.snapshot_id, DM_FAILED),
            personal_failure_dm(channel_id, backup_id, backup_name, snapshot),
        )
        return result.outcome

    async def personal_recovery(
        self,
        team_id: str,
        user_id: str,
        channel_id: str,
        backup_id: int,
        backup_name: str | None,
        episode: Episode,
    ) -> Outcome:
        snapshot_id = episode.recovered_snapshot_id
        assert snapshot_id is not None
        result = await self._notifier.deliver(
            DeliveryKey(team_id, user_id, snapshot_id, DM_RECOVERED),
            personal_recovery_dm(
                channel_id,
                backup_id,
                backup_name,
                snapshot_id=snapshot_id,
                failures=episode.failures,
                failing_for=episode.failing_for,
            ),
        )
        return result.outcome
