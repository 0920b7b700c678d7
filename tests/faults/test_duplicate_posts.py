"""Slack acted, then failed: a post whose outcome is unknown is read back, never re-sent blindly.

The real notifier and slack_sdk client against the Slack stand-in over HTTP; the stand-in
stores the message and only then answers 500/503 or cuts the connection, as Slack does when
its answer is lost. Exactly one message must reach the channel, recorded in the ledger, in
the same send (no waiting for the claim to go stale).
"""

from __future__ import annotations

import pytest

from bot.devtools.slack_standin import PostedMessage
from bot.slack.delivery.keys import DeliveryKey
from bot.slack.messages import Message
from storage.models import DeliveryStatus
from storage.repositories import DeliveryLedger
from tests.constants import CHANNEL, TEAM
from tests.services.kit import Kit

KEY = DeliveryKey(TEAM, CHANNEL, 7101, "alert")
MESSAGE = Message(text=":x: Snapshot 7101 of Nightly CRM (456) failed")


async def owe_and_send(kit: Kit, key: DeliveryKey, thread_ts: str | None = None) -> None:
    """The message is owed, then one round of the sender sends it."""
    await kit.notifier.deliver(key, MESSAGE, thread_ts=thread_ts)
    kit.sender.force_next_round()
    await kit.sender.drain()
    await kit.sender.settle()


def keyed(kit: Kit, key: DeliveryKey = KEY) -> list[PostedMessage]:
    """Messages in the channel (and its threads) that carry `key` in their metadata."""
    return [
        m
        for m in kit.slack.messages(CHANNEL)
        if (m.metadata or {}).get("event_payload", {}).get("key") == key.label
    ]


async def ledger_status(kit: Kit, key: DeliveryKey = KEY) -> tuple[str, str | None] | None:
    async with kit.db.session() as session:
        row = (await DeliveryLedger(session).get_many([key.ledger_key])).get(key.ledger_key)
    return None if row is None else (row.status, row.message_ts)


@pytest.mark.parametrize(
    "fault",
    [
        {"error": "internal_error", "status": 500},
        {"error": "service_unavailable", "status": 503},
        {"error": "connection_dropped", "status": 500, "drop": True},
    ],
    ids=["500", "503", "dropped-connection"],
)
async def test_a_post_slack_made_before_failing_is_not_repeated(
    kit: Kit, fault: dict[str, object]
) -> None:
    kit.slack.fail_next("chat.postMessage", after_acting=True, **fault)  # type: ignore[arg-type]

    await owe_and_send(kit, KEY)

    [posted] = keyed(kit)
    assert await ledger_status(kit) == (DeliveryStatus.SENT, posted.ts)
    assert kit.slack.calls_to("conversations.history"), "settled by reading the channel back"
    assert len(kit.slack.calls_to("chat.postMessage")) == 1


async def test_a_thread_reply_slack_made_before_failing_is_not_repeated(kit: Kit) -> None:
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    key = DeliveryKey(TEAM, CHANNEL, 7102, "thread_reply")
    kit.slack.fail_next("chat.postMessage", "internal_error", status=500, after_acting=True)

    await owe_and_send(kit, key, thread_ts=card["ts"])

    [reply] = keyed(kit, key)
    assert await ledger_status(kit, key) == (DeliveryStatus.SENT, reply.ts)
    assert reply.thread_ts == card["ts"]
    assert len(kit.slack.thread(CHANNEL, card["ts"])) == 1
    assert kit.slack.calls_to("conversations.replies")


async def test_a_500_before_posting_is_posted_once_in_the_same_call(kit: Kit) -> None:
    kit.slack.fail_next("chat.postMessage", "internal_error", status=500)

    await owe_and_send(kit, KEY)

    [posted] = keyed(kit)
    assert await ledger_status(kit) == (DeliveryStatus.SENT, posted.ts)
    assert len(kit.slack.calls_to("chat.postMessage")) == 2


async def test_no_answer_to_the_read_back_keeps_the_claim_without_posting_again(
    kit: Kit,
) -> None:
    kit.slack.fail_next("chat.postMessage", "internal_error", status=500, after_acting=True)
    kit.slack.fail_next("conversations.history", "internal_error", status=500, times=10)

    await owe_and_send(kit, KEY)

    assert len(keyed(kit)) == 1  # not posted a second time on a guess
    assert await ledger_status(kit) == (DeliveryStatus.CLAIMED, None)


async def test_a_senders_429_comes_back_to_it_and_its_row_waits(kit: Kit) -> None:
    """slack_sdk does not sleep out the sender's 429: the sender holds its bucket and the row
    stays queued until `Retry-After` (nothing was posted, so nothing is read back)."""
    kit.slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=30)

    await owe_and_send(kit, KEY)

    assert keyed(kit) == []
    assert [c.status for c in kit.slack.calls_to("chat.postMessage")] == [429]
    assert await ledger_status(kit) == (DeliveryStatus.PENDING, None)
    assert kit.slack.calls_to("conversations.history") == []


async def test_rate_limits_of_other_callers_are_still_retried_inside_slack_sdk(kit: Kit) -> None:
    client = await kit.clients.for_team(TEAM)
    kit.slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=0)

    await client.chat_postMessage(channel=CHANNEL, text="from a handler")

    assert [c.status for c in kit.slack.calls_to("chat.postMessage")] == [429, 200]


async def test_idempotent_calls_are_still_retried_after_a_500(kit: Kit) -> None:
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    kit.slack.fail_next("chat.update", "internal_error", status=500)
    kit.slack.fail_next("conversations.history", "internal_error", status=503)

    await client.chat_update(channel=CHANNEL, ts=card["ts"], text="updated")
    history = await client.conversations_history(channel=CHANNEL)

    assert kit.slack.message(CHANNEL, card["ts"]).text == "updated"
    assert [m["ts"] for m in history["messages"]] == [card["ts"]]
    assert [c.status for c in kit.slack.calls_to("chat.update")] == [500, 200]


async def test_slack_sdk_never_re_sends_a_creating_call(kit: Kit) -> None:
    client = await kit.clients.for_team(TEAM)
    kit.slack.fail_next("chat.postEphemeral", "x", status=500, after_acting=True, drop=True)
    with pytest.raises(Exception):  # noqa: B017 - any error: the point is one call only
        await client.chat_postEphemeral(channel=CHANNEL, user="U0DANA", text="only once")
    assert len(kit.slack.calls_to("chat.postEphemeral")) == 1
    assert len(kit.slack.ephemerals(CHANNEL)) == 1
