"""Issue 5 end to end: a snapshot started with `/skyvia snapshot` is reported in its thread.

The real bot over HTTP, the simulator as Skyvia and the fake Slack; the watcher runs on its own
(interval 0.2 s) exactly as in `skyvia-bot run`.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.simulator.records import SimSnapshot
from storage.models import DeliveryStatus
from storage.repositories import DeliveryLedger
from tests.constants import BACKUP, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import assert_valid_payloads, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import binding_row, finished_watch


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    await connect(stack)
    return stack


async def start_snapshot(stack: Stack, user: str = MEMBER) -> tuple[SimSnapshot, PostedMessage]:
    """`/skyvia snapshot 456`; returns the simulator's run and the lifecycle card."""
    before = len(stack.sim.state.snapshots_of(BACKUP))
    await stack.command(f"snapshot {BACKUP}", user=user)
    await wait_until(lambda: len(stack.sim.state.snapshots_of(BACKUP)) > before, what="the run")
    run = stack.sim.state.snapshots_of(BACKUP)[-1]
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and f"snapshot {run.id}" in rendered(c.args)
    )
    card = stack.slack.message(CHANNEL, posted[0].response["ts"])
    return run, card


def updates_of(stack: Stack, ts: str) -> list[dict[str, Any]]:
    return [c.args for c in stack.slack.calls_to("chat.update") if c.ok and c.args["ts"] == ts]


async def test_snapshot_reply_lands_in_the_thread_and_the_card_shows_the_end(bound: Stack) -> None:
    stack = bound
    run, card = await start_snapshot(stack)
    watch = await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    assert watch.outcome == "Succeeded"

    replies = stack.slack.thread(CHANNEL, card.ts)
    assert len(replies) == 1
    reply = replies[0]
    assert f"<@{MEMBER}>" in reply.text and "Succeeded" in rendered(reply.__dict__)
    assert "Succeeded in " in rendered(reply.__dict__)  # with the run's duration
    assert not reply.reply_broadcast  # a success stays in the thread
    assert reply.metadata is not None and reply.metadata["event_type"] == "skyvia_delivery"

    # The card went through the states and ended on the final one.
    updates = updates_of(stack, card.ts)
    assert updates and "succeeded" in updates[-1]["text"]
    assert "succeeded" in stack.slack.message(CHANNEL, card.ts).text
    # The reply came before the card's final update (step 4 of
    # docs/reference/guarantees.md#a-snapshot-started-from-slack).
    reply_call = next(
        c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")
    )
    last_update = [c for c in stack.slack.calls_to("chat.update") if c.args["ts"] == card.ts][-1]
    assert reply_call.at <= last_update.at

    async with stack.bot.container.db.session() as session:
        key = (TEAM, CHANNEL, run.id, "thread_reply")
        row = (await DeliveryLedger(session).get_many([key])).get(key)
    assert row is not None and row.status == DeliveryStatus.SENT and row.message_ts == reply.ts
    assert stack.bot.container.metrics.thread_replies_sent._value.get() == 1
    # A further while of watching changes nothing: one reply, ever.
    await stack.bot.after_ticks(3)
    assert len(stack.slack.thread(CHANNEL, card.ts)) == 1
    assert_valid_payloads(stack.slack)


async def test_failed_run_is_broadcast_from_its_thread_and_not_alerted_there(
    bound: Stack,
) -> None:
    stack = bound
    await connect(stack, channel=OTHER_CHANNEL)
    stack.sim.state.fail_next(BACKUP, "Error: INVALID_SESSION_ID on object Account")
    run, card = await start_snapshot(stack)
    await finished_watch(stack.bot.container.db, run.id, CHANNEL)

    replies = stack.slack.thread(CHANNEL, card.ts)
    assert len(replies) == 1 and replies[0].reply_broadcast
    assert "INVALID_SESSION_ID" in rendered(replies[0].__dict__)
    assert "failed" in stack.slack.message(CHANNEL, card.ts).text

    # The other channel of the workspace was not watching it: it gets the failure alert.
    alert = await stack.slack.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args["channel"] == OTHER_CHANNEL and str(run.id) in c.args["text"],
    )
    assert len(alert) == 1
    # A few more scans: the watching channel never gets a top-level alert.
    await stack.bot.after_ticks(3)
    top_level = [
        m
        for m in stack.slack.messages(CHANNEL)
        if not m.is_reply and str(run.id) in m.text and m.ts != card.ts
    ]
    assert top_level == []
    assert len(stack.slack.thread(CHANNEL, card.ts)) == 1
    assert_valid_payloads(stack.slack)


async def test_rate_limited_reply_is_retried_and_posted_once(bound: Stack) -> None:
    stack = bound
    stack.sim.state.set_speed(5)  # time to arm the fault after the card is posted
    run, card = await start_snapshot(stack)
    stack.slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=1)
    stack.sim.state.finish_snapshot(run.id)
    await finished_watch(stack.bot.container.db, run.id, CHANNEL)

    attempts = [c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert [c.status for c in attempts] == [429, 200]
    assert len(stack.slack.thread(CHANNEL, card.ts)) == 1


async def test_channel_not_found_pauses_the_binding_instead_of_retrying(bound: Stack) -> None:
    stack = bound
    # Simulated time all but stands still: the run moves on only when finished here, so the first
    # call about it after the channel is gone is its reply (a card edit owed for a state seen
    # on the way would meet channel_not_found first, and the paused watch would wait).
    stack.sim.state.set_speed(0.001)
    run, _card = await start_snapshot(stack)
    stack.slack.fail_channel(CHANNEL, "channel_not_found")
    stack.sim.state.finish_snapshot(run.id)
    watch = await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    assert watch.outcome == "Succeeded"  # the watch is done once its reply is owed

    binding = await binding_row(stack.bot.container.db, CHANNEL)
    assert binding is not None and binding.is_paused
    assert "does not exist" in (binding.paused_reason or "")
    attempts = [c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(attempts) == 1 and attempts[0].error == "channel_not_found"
    await stack.bot.after_ticks(3)  # no retries later either
    assert (
        len([c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]) == 1
    )
    async with stack.bot.container.db.session() as session:
        key = (TEAM, CHANNEL, run.id, "thread_reply")
        row = (await DeliveryLedger(session).get_many([key])).get(key)
    # Given up with the reason: nothing half-sent is left behind, and nothing retries it.
    assert row is not None and row.status == DeliveryStatus.GAVE_UP
    assert row.last_error == "channel_not_found"

    status = await stack.reply_to("status")
    assert "paused" in rendered(status).lower()


async def test_a_card_in_progress_shows_its_start_as_a_living_relative_date(bound: Stack) -> None:
    """Every version of the card before the end says when it started as Slack's `{ago}` date."""
    stack = bound
    run, card = await start_snapshot(stack)
    await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    first_post = next(
        c.args
        for c in stack.slack.calls_to("chat.postMessage")
        if c.ok and f"snapshot {run.id}" in rendered(c.args)
    )
    versions = [first_post, *updates_of(stack, card.ts)]
    in_progress = [v for v in versions if "succeeded" not in v["text"]]
    assert in_progress, "the card was posted before the run ended"
    for version in in_progress:
        text = rendered(version)
        assert "^{ago}|" in text
        assert "running for" not in text and "waiting for" not in text
    # The finished card says when it started and how long it took, as before.
    assert "took " in rendered(versions[-1])
