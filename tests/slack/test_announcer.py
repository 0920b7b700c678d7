"""The Slack side of the services' announcements: which message, which thread, once each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.services.announcements import (
    CardChanged,
    Channel,
    FailureSeen,
    Outcome,
    RejectedToken,
    RunFinished,
)
from bot.services.models import WatchedRun
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.delivery.announcer import SlackAnnouncer
from bot.slack.delivery.keys import DeliveryKey, DeliveryResult
from bot.slack.messages import Message
from tests.services.kit import CHANNEL, TEAM, Kit

OTHER = "C0OTHER"


def _snapshot(kit: Kit, state: SnapshotState, snapshot_id: int = 7001) -> Snapshot:
    return Snapshot(
        snapshot_id=snapshot_id,
        queue_time=kit.clock.now,
        start_time=kit.clock.now,
        end_time=kit.clock.now + timedelta(minutes=5),
        state=state,
        log="Error: the source refused the connection",
    )


async def _run(kit: Kit) -> WatchedRun:
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    return WatchedRun(
        team_id=TEAM,
        channel_id=CHANNEL,
        message_ts=card["ts"],
        backup_id=456,
        backup_name="Nightly CRM",
        snapshot_id=7001,
        started_by="U0DANA",
        started_at=kit.clock.now,
    )


async def test_a_failure_is_told_once_in_each_channel(kit: Kit) -> None:
    channels = [Channel(TEAM, CHANNEL), Channel(TEAM, OTHER)]
    failed = _snapshot(kit, SnapshotState.FAILED)
    news = FailureSeen(456, "Nightly CRM", failed)
    first = await kit.announcer.owe_all(news, channels)
    queued = await kit.announcer.owe_all(news, channels)
    assert first == queued == [Outcome.QUEUED, Outcome.QUEUED]
    assert kit.slack.messages(CHANNEL) == []  # owed, not sent: the sender sends
    await kit.flush()
    again = await kit.announcer.owe_all(news, channels)
    assert again == [Outcome.ALREADY_SENT, Outcome.ALREADY_SENT]
    for channel in (CHANNEL, OTHER):
        [alert] = kit.slack.messages(channel)
        assert "Nightly CRM" in alert.text and alert.metadata is not None


class _Notifier:
    """Raises for one channel, answers SENT for the others."""

    stale_after = timedelta(seconds=8)

    async def deliver(self, key: DeliveryKey, message: Message, **_: Any) -> DeliveryResult:
        if key.channel_id == OTHER:
            raise RuntimeError("connection reset")
        return DeliveryResult(Outcome.SENT, ts="1.0")


async def test_a_post_that_raises_fails_for_its_channel_alone(kit: Kit) -> None:
    announcer = SlackAnnouncer(_Notifier())  # type: ignore[arg-type]
    channels = [Channel(TEAM, OTHER), Channel(TEAM, CHANNEL)]
    failed = _snapshot(kit, SnapshotState.FAILED)
    outcomes = await announcer.owe_all(FailureSeen(456, None, failed), channels)
    assert outcomes == [Outcome.FAILED, Outcome.SENT]


async def test_failed_outcomes_are_also_shown_in_the_channel(kit: Kit) -> None:
    run = await _run(kit)
    finished = RunFinished(run, _snapshot(kit, SnapshotState.FAILED))
    assert await kit.announcer.owe(finished, Channel(TEAM, CHANNEL)) == Outcome.QUEUED
    await kit.flush()
    [reply] = kit.slack.thread(CHANNEL, run.message_ts)
    assert reply.reply_broadcast


async def test_succeeded_outcomes_stay_in_the_thread_and_the_card_shows_the_figures(
    kit: Kit,
) -> None:
    run = await _run(kit)
    succeeded = _snapshot(kit, SnapshotState.SUCCEEDED).model_copy(update={"success_rows": 1234})
    here = Channel(TEAM, CHANNEL)
    assert await kit.announcer.owe(RunFinished(run, succeeded), here) == Outcome.QUEUED
    await kit.flush()
    [reply] = kit.slack.thread(CHANNEL, run.message_ts)
    assert not reply.reply_broadcast
    assert (await kit.announcer.owe(CardChanged(run, succeeded, kit.clock.now), here)).settled
    await kit.flush()
    [card] = [m for m in kit.slack.messages(CHANNEL) if m.ts == run.message_ts]
    assert card.edits == 1 and "1,234" in str(card.blocks)


async def test_a_rejected_token_is_told_once_per_binding(kit: Kit) -> None:
    channel = Channel(TEAM, CHANNEL)
    bound_at = kit.clock.now - timedelta(days=3)
    rejected = RejectedToken(123, bound_at)
    assert await kit.announcer.owe(rejected, channel) == Outcome.QUEUED
    await kit.flush()
    assert await kit.announcer.owe(rejected, channel) == Outcome.ALREADY_SENT
    reconnected = RejectedToken(123, kit.clock.now)  # a new binding of the channel: told again
    assert await kit.announcer.owe(reconnected, channel) == Outcome.QUEUED
    await kit.flush()
    assert len(kit.slack.messages(CHANNEL)) == 2
