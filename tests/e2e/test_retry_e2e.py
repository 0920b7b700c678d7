"""Issue 13, item 9 end to end: a retry stays with what it retries.

Run snapshot on a failure alert, a failed card or its failed reply starts the new run's card in
that message's thread, says "Retry of snapshot …" with a link back, and a forged or missing
thread falls back to a plain channel card. The real bot with its workers, the simulator and the
Slack stand-in.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from tests.constants import BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import assert_valid_payloads, button, click, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready, finished_watch, thread_replies


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    await connect(stack)
    return stack


def as_clicked(message: PostedMessage) -> dict[str, Any]:
    """The message as a click carries it (a reply names its thread)."""
    clicked = {"text": message.text, "blocks": message.blocks, "ts": message.ts}
    if message.thread_ts:
        clicked["thread_ts"] = message.thread_ts
    return clicked


async def retry_card(stack: Stack, retried: int) -> PostedMessage:
    """Waits for the card of the run that retries snapshot `retried`."""
    posted = await stack.slack.wait_for(
        "chat.postMessage",
        lambda c: c.ok and f"Retry of snapshot {retried}" in rendered(c.args),
    )
    assert len(posted) == 1
    return stack.slack.message(CHANNEL, posted[0].response["ts"])


def nested_replies(stack: Stack) -> list[PostedMessage]:
    """Messages posted in the thread of a reply: Slack has no thread inside a thread."""
    messages = stack.slack.messages(CHANNEL)
    replies = {m.ts for m in messages if m.is_reply}
    return [m for m in messages if m.thread_ts in replies]


async def outcome_of(stack: Stack, run_id: int) -> PostedMessage:
    """The one outcome reply of a watched run, once the run finished and it was sent."""
    await finished_watch(stack.bot.container.db, run_id, CHANNEL)
    [outcome] = [
        m
        for m in stack.slack.messages(CHANNEL)
        if m.is_reply
        and f"snapshot {run_id}" in rendered(m.__dict__)
        and m.metadata is not None
        and m.metadata["event_payload"].get("kind") == "thread_reply"
    ]
    return outcome


async def failed_card(stack: Stack) -> tuple[int, PostedMessage]:
    stack.sim.state.fail_next(BACKUP, "Error: INVALID_SESSION_ID on object Account")
    before = len(stack.sim.state.snapshots_of(BACKUP))
    await stack.command(f"snapshot {BACKUP}", user=MEMBER)
    await wait_until(lambda: len(stack.sim.state.snapshots_of(BACKUP)) > before, what="the run")
    run = stack.sim.state.snapshots_of(BACKUP)[-1]
    await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and f"snapshot {run.id}" in rendered(c.args)
    )
    return run.id, stack.slack.message(CHANNEL, posted[0].response["ts"])


async def test_retry_from_a_failed_card_lands_in_its_thread_linked_both_ways(
    bound: Stack,
) -> None:
    stack = bound
    failed_id, card = await failed_card(stack)
    assert "failed" in card.text
    await click(stack, as_clicked(card), ActionId.RUN_SNAPSHOT)

    retry = await retry_card(stack, failed_id)
    assert retry.thread_ts == card.ts  # the failed card's thread gets the new card
    new_run = stack.sim.state.snapshots_of(BACKUP)[-1]
    assert new_run.id != failed_id and f"snapshot {new_run.id}" in rendered(retry.__dict__)
    link = stack.slack.calls_to("chat.getPermalink")[-1]
    assert link.args["message_ts"] == card.ts
    assert link.response["permalink"] in rendered(retry.__dict__)  # and links back to it
    assert_valid_payloads(stack.slack)


async def test_retry_from_the_failed_reply_goes_to_the_same_thread(bound: Stack) -> None:
    stack = bound
    failed_id, card = await failed_card(stack)
    reply = stack.slack.thread(CHANNEL, card.ts)[0]
    await click(stack, as_clicked(reply), ActionId.RUN_SNAPSHOT)
    retry = await retry_card(stack, failed_id)
    assert retry.thread_ts == card.ts


async def test_retry_from_a_failure_alert_lands_in_the_alerts_thread(bound: Stack) -> None:
    stack = bound
    await cursors_ready(stack.bot.container.db)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True, log="Error: INVALID_SESSION_ID")
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    alert = alerts_in(stack.slack, CHANNEL, failed.id)[0]
    await click(stack, as_clicked(alert), ActionId.RUN_SNAPSHOT)

    retry = await retry_card(stack, failed.id)
    assert retry.thread_ts == alert.ts
    assert stack.slack.thread(CHANNEL, alert.ts)[0].ts == retry.ts
    assert_valid_payloads(stack.slack)


async def test_a_retry_from_an_alert_ends_in_the_alerts_thread_not_under_its_card(
    bound: Stack,
) -> None:
    """Issue 19 item 13: the card is a reply in the alert's thread, so the retried run's
    outcome goes in that same thread; a reply to the card would be a thread inside a thread."""
    stack = bound
    await cursors_ready(stack.bot.container.db)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True, log="Error: INVALID_SESSION_ID")
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    alert = alerts_in(stack.slack, CHANNEL, failed.id)[0]
    await click(stack, as_clicked(alert), ActionId.RUN_SNAPSHOT)
    retry = await retry_card(stack, failed.id)
    new_run = stack.sim.state.snapshots_of(BACKUP)[-1]

    outcome = await outcome_of(stack, new_run.id)
    assert outcome.thread_ts == alert.ts
    assert [m.ts for m in thread_replies(stack.slack, CHANNEL, alert.ts)] == [outcome.ts]
    assert stack.slack.thread(CHANNEL, retry.ts) == []
    assert nested_replies(stack) == []
    assert_valid_payloads(stack.slack)


async def test_a_retry_from_a_failed_card_ends_in_that_cards_thread(bound: Stack) -> None:
    stack = bound
    failed_id, card = await failed_card(stack)
    await click(stack, as_clicked(card), ActionId.RUN_SNAPSHOT)
    retry = await retry_card(stack, failed_id)
    new_run = stack.sim.state.snapshots_of(BACKUP)[-1]

    outcome = await outcome_of(stack, new_run.id)
    assert outcome.thread_ts == card.ts
    assert stack.slack.thread(CHANNEL, retry.ts) == []
    assert nested_replies(stack) == []
    assert_valid_payloads(stack.slack)


async def test_a_forged_thread_falls_back_to_a_channel_card(bound: Stack) -> None:
    stack = bound
    failed_id, card = await failed_card(stack)
    forged = {**as_clicked(card), "ts": "../C0OTHER"}
    value = button(forged, ActionId.RUN_SNAPSHOT)["value"]
    await click(stack, forged, ActionId.RUN_SNAPSHOT, value=value)
    retry = await retry_card(stack, failed_id)
    assert retry.thread_ts is None
    assert stack.slack.warnings == []
