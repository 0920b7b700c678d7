"""A snapshot started from Slack is watched and reported once, whatever happens to its card's post.

The card's `chat.postMessage` used to be the one post outside the delivery ledger: when it failed
(a 429 with no retry left, a 500 after Slack had stored it, a connection dropped after storing)
the bot told the user, but never recorded a watch, so the run's outcome was never posted. Now the
watch is recorded as soon as Skyvia names the run, and the card is settled like every other
delivery: read back by its metadata when its outcome is unknown, posted again only when absent.

The real bot over HTTP, the Slack stand-in and the simulator; the faults hit exactly the card's
post (the connect confirmation is posted before they are armed).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.simulator.records import SimSnapshot
from tests.constants import BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import finished_watch, kind_of

RATE_LIMIT_RETRIES = 5
"""slack_sdk's own retries of a 429 (`bot.slack.clients.retry_handlers`)."""

FAULTS: dict[str, dict[str, Any]] = {
    "429 with no retry left": {
        "error": "ratelimited",
        "status": 429,
        "retry_after": 0,
        "times": RATE_LIMIT_RETRIES + 1,
    },
    "500 after storing": {"error": "internal_error", "status": 500, "after_acting": True},
    "dropped after storing": {"after_acting": True, "drop": True},
}


def cards_of(stack: Stack, run: SimSnapshot) -> list[PostedMessage]:
    """Top-level messages of the channel that are the run's lifecycle card."""
    return [
        m
        for m in stack.slack.messages(CHANNEL)
        if not m.is_reply
        and kind_of(m) not in ("thread_reply", "alert")
        and f"snapshot {run.id}" in rendered(m.__dict__)
    ]


def outcomes_of(stack: Stack, run: SimSnapshot) -> list[PostedMessage]:
    """The run's outcome messages (thread replies, or top-level when it had no card)."""
    return [
        m
        for m in stack.slack.messages(CHANNEL)
        if kind_of(m) == "thread_reply" and m.metadata["event_payload"]["snapshot_id"] == run.id
    ]


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_card_post_fault_still_gives_one_card_and_one_outcome(
    stack: Stack, fault: str
) -> None:
    await connect(stack)
    stack.sim.state.set_speed(5)
    stack.slack.fail_next("chat.postMessage", **FAULTS[fault])
    before = len(stack.sim.state.snapshots_of(BACKUP))

    response_id = await stack.command(f"snapshot {BACKUP}", user=MEMBER)
    await wait_until(lambda: len(stack.sim.state.snapshots_of(BACKUP)) > before, what="the run")
    run = stack.sim.state.snapshots_of(BACKUP)[-1]
    watch = await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    await wait_until(lambda: outcomes_of(stack, run), what="the outcome")
    await stack.bot.after_ticks(3)

    cards = cards_of(stack, run)
    outcomes = outcomes_of(stack, run)
    assert len(cards) == 1, [m.text for m in cards]
    assert len(outcomes) == 1, [m.text for m in outcomes]
    assert outcomes[0].thread_ts == cards[0].ts  # in the card's thread
    assert watch.message_ts == cards[0].ts
    assert watch.outcome == "Succeeded"
    # The user was told the run started and its card follows.
    told = await stack.slack.wait_for_responses(response_id, count=1)
    assert f"Snapshot {run.id}" in told[0].body["text"] and "card" in told[0].body["text"]
