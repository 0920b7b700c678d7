"""Refusals that never heal end: the binding is paused, or the delivery is given up.

The stand-in answers every post to a channel with one Slack error, as a real workspace does
when a setting forbids the bot to post (`restricted_action`) or a message can never be posted
(`msg_too_long`). Every attempt costs a call to Slack: the number of attempts must be bounded,
and the reason must show where an admin looks (`/skyvia status`, the log).
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.devtools.slack_standin import SlackCall
from bot.devtools.waiting import wait_until
from bot.slack.delivery.errors import Remedy, remedy_for
from bot.slack.delivery.keys import DeliveryKey
from bot.slack.delivery.notifier import Notifier, Outcome
from bot.slack.delivery.pacing import Pace, PaceConfig
from bot.slack.delivery.senders import OutboxSender
from bot.slack.messages import Message
from storage.models import DeliveryStatus
from storage.repositories import BindingRepository, DeliveryLedger
from tests.constants import CHANNEL, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.test_watch_e2e import start_snapshot
from tests.e2e.worker_kit import alerts_in, cursors_ready, finished_watch
from tests.services.kit import Kit

KEY = DeliveryKey(TEAM, CHANNEL, 7301, "alert")
MESSAGE = Message(text=":x: Snapshot 7301 of Nightly CRM (456) failed")
BACKUP = 456


def attempts(calls: list[SlackCall], channel: str = CHANNEL) -> list[SlackCall]:
    return [c for c in calls if c.args.get("channel") == channel and c.args.get("metadata")]


@pytest.mark.parametrize(
    ("error", "remedy"),
    [
        ("restricted_action", Remedy.PAUSE),
        ("missing_scope", Remedy.PAUSE),
        ("token_expired", Remedy.PAUSE),
        ("not_allowed_token_type", Remedy.PAUSE),
        ("msg_too_long", Remedy.DROP),
        ("invalid_blocks", Remedy.DROP),
        ("invalid_arguments", Remedy.DROP),
        ("ratelimited", Remedy.WAIT),
        ("internal_error", Remedy.RETRY),
        ("a_code_slack_adds_next_year", Remedy.RETRY),
    ],
)
def test_every_slack_error_has_a_remedy(error: str, remedy: Remedy) -> None:
    assert remedy_for(error) == remedy


async def test_restricted_action_pauses_the_binding_after_one_attempt(kit: Kit) -> None:
    await kit.bind()
    kit.slack.fail_channel(CHANNEL, "restricted_action")

    await kit.notifier.deliver(KEY, MESSAGE)
    await kit.flush()

    async with kit.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None and binding.is_paused
    assert "forbids the bot to post" in (binding.paused_reason or "")
    assert len(attempts(kit.slack.calls_to("chat.postMessage"))) == 1


@pytest.mark.parametrize("error", ["msg_too_long", "invalid_blocks", "invalid_arguments"])
async def test_a_message_that_can_never_be_posted_is_given_up_at_once(kit: Kit, error: str) -> None:
    kit.slack.fail_channel(CHANNEL, error)

    await kit.notifier.deliver(KEY, MESSAGE)
    await kit.flush()
    again = await kit.notifier.deliver(KEY, MESSAGE)
    await kit.flush()

    assert again.outcome == Outcome.GAVE_UP and again.settled and again.error == error
    assert len(attempts(kit.slack.calls_to("chat.postMessage"))) == 1
    async with kit.db.session() as session:
        row = (await DeliveryLedger(session).get_many([KEY.ledger_key])).get(KEY.ledger_key)
    assert row is not None and (row.status, row.last_error) == (DeliveryStatus.GAVE_UP, error)


@pytest.mark.parametrize("error", ["internal_error", "a_code_slack_adds_next_year"])
async def test_a_refusal_that_may_heal_is_retried_with_backoff_then_given_up(
    kit: Kit, error: str
) -> None:
    kit.slack.fail_channel(CHANNEL, error)
    notifier = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        pauses=kit.pauses,
        owner="worker:test:retry",
        stale_after=8.0,
        max_attempts=3,
        retry_base=0.3,
    )
    sender = OutboxSender(
        notifier=notifier,
        db=kit.db,
        batcher=kit.batcher,
        owner=notifier.owner,
        pace=Pace(PaceConfig.parse("off")),  # only the backoff spaces the attempts here
    )
    await notifier.deliver(KEY, MESSAGE)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 6.0
    rounds = 0
    while loop.time() < deadline:  # a sender going round as often as it can
        await sender.drain()
        await sender.settle()
        rounds += 1
        if (await notifier.deliver(KEY, MESSAGE)).outcome == Outcome.GAVE_UP:
            break
        await asyncio.sleep(0.05)

    tried = attempts(kit.slack.calls_to("chat.postMessage"))
    assert len(tried) == 3
    assert rounds > 3  # rounds in between found the row backing off and did not call Slack
    gaps = [b.at - a.at for a, b in itertools.pairwise(tried)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6  # the backoff doubles
    await sender.drain()
    await sender.settle()
    assert len(attempts(kit.slack.calls_to("chat.postMessage"))) == 3
    await sender.close()


# End to end: the real bot, its scanner and watcher, the stand-in, the simulator.


async def test_a_channel_that_forbids_posting_gets_one_attempt_and_status_says_why(
    stack: Stack,
) -> None:
    await connect(stack)
    await connect(stack, channel=OTHER_CHANNEL)
    await cursors_ready(stack.bot.container.db)
    stack.slack.fail_channel(OTHER_CHANNEL, "restricted_action")
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")

    tried = await wait_until(
        lambda: attempts(stack.slack.calls_to("chat.postMessage"), OTHER_CHANNEL),
        what="an attempt in the restricted channel",
    )
    await stack.bot.after_ticks(4)  # many scans: no further attempt
    assert attempts(stack.slack.calls_to("chat.postMessage"), OTHER_CHANNEL) == tried
    assert len(tried) == 1 and tried[0].error == "restricted_action"

    status = await stack.reply_to("status", channel=OTHER_CHANNEL)
    assert "paused" in rendered(status).lower()
    assert "forbids the bot to post" in rendered(status)


async def test_a_finished_watch_whose_reply_can_never_be_posted_ends(stack: Stack) -> None:
    await connect(stack)
    stack.sim.state.set_speed(5)  # time to arm the fault after the card is posted
    run, _card = await start_snapshot(stack)
    stack.slack.fail_channel(CHANNEL, "msg_too_long")
    stack.sim.state.finish_snapshot(run.id)

    watch = await finished_watch(stack.bot.container.db, run.id, CHANNEL)

    assert watch.outcome == "Succeeded"  # ended with the snapshot's state, not left pending
    replies = [c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(replies) == 1 and replies[0].error == "msg_too_long"
    await stack.bot.after_ticks(4)  # several watcher ticks: nothing more is tried
    assert (
        len([c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]) == 1
    )
