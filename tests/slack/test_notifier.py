"""The notifier's exactly-once rules, sent by the outbox's sender, against a real ledger and the
fake Slack: owed once, posted once, unknown outcomes read back, refusals applied."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import update

from bot.slack.delivery.keys import DeliveryKey
from bot.slack.delivery.notifier import Notifier, Outcome
from bot.slack.delivery.pacing import Pace, PaceConfig
from bot.slack.delivery.senders import OutboxSender
from bot.slack.messages import Message
from storage.models import Delivery, DeliveryStatus
from storage.repositories import BindingRepository, DeliveryLedger
from storage.repositories._sql import db_now
from storage.repositories.outbox import Outbox, OutboxEntry
from tests.constants import CHANNEL, TEAM
from tests.services.kit import STALE_AFTER, Kit

KEY = DeliveryKey(TEAM, CHANNEL, 7002, "alert")
MESSAGE = Message(text=":x: Snapshot 7002 of Nightly CRM (456) failed")
DEAD = "worker:dead:1:x"


def posts(kit: Kit) -> list[str]:
    return [c.args["text"] for c in kit.slack.calls_to("chat.postMessage") if c.ok]


async def ledger_row(kit: Kit, key: DeliveryKey = KEY):  # type: ignore[no-untyped-def]
    async with kit.db.session() as session:
        rows = await DeliveryLedger(session).get_many([key.ledger_key])
    return rows.get(key.ledger_key)


async def age_claim(kit: Kit, key: DeliveryKey = KEY, *, age: float) -> None:
    """Moves a claim's time `age` seconds into the past (the database's clock judges it)."""
    async with kit.db.session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.snapshot_id == key.snapshot_id, Delivery.kind == key.kind)
            .values(claimed_at=db_now(session, plus_seconds=-age))
        )


async def stale_claim(
    kit: Kit,
    key: DeliveryKey = KEY,
    *,
    age: float = 60.0,
    thread_ts: str | None = None,
) -> None:
    """The row of `key`, owed and claimed by a sender that died `age` seconds ago."""
    await kit.notifier.deliver(key, MESSAGE, thread_ts=thread_ts)
    async with kit.db.session() as session:
        [row] = await Outbox(session).next_rows(10)
        assert await Outbox(session).claim([row.id], owner=DEAD)
    await age_claim(kit, key, age=age)


async def sender_round(sender: OutboxSender) -> None:
    """One round of the sender, with its sweep for stale claims."""
    sender.force_next_round()
    await sender.drain()
    await sender.settle()


def other_sender(kit: Kit, notifier: Notifier) -> OutboxSender:
    return OutboxSender(
        notifier=notifier,
        db=kit.db,
        batcher=kit.batcher,
        owner=notifier.owner,
        pace=Pace(PaceConfig.parse("off")),
    )


async def test_delivers_once_and_records_the_ts(kit: Kit) -> None:
    assert (await kit.notifier.deliver(KEY, MESSAGE)).outcome == Outcome.QUEUED
    await kit.flush()
    again = await kit.notifier.deliver(KEY, MESSAGE)
    assert again.outcome == Outcome.ALREADY_SENT and len(posts(kit)) == 1
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.SENT and row.message_ts == again.ts
    call = kit.slack.calls_to("chat.postMessage")[0]
    assert call.args["metadata"]["event_payload"]["key"] == KEY.label
    assert kit.metrics.alerts_sent._value.get() == 1


async def test_a_fresh_claim_of_someone_else_is_left_to_them(kit: Kit) -> None:
    await stale_claim(kit, age=1.0)
    await sender_round(kit.sender)
    assert posts(kit) == []
    assert (await ledger_row(kit)).claimed_by == DEAD


async def test_a_stale_claim_whose_message_is_in_slack_is_only_recorded(kit: Kit) -> None:
    await stale_claim(kit)
    client = await kit.clients.for_team(TEAM)
    earlier = await client.chat_postMessage(
        channel=CHANNEL, text="posted before the crash", metadata=KEY.metadata()
    )
    await client.chat_postMessage(channel=CHANNEL, text="something else")
    await sender_round(kit.sender)
    assert posts(kit) == ["posted before the crash", "something else"]
    history = kit.slack.calls_to("conversations.history")[-1].args
    assert history["include_all_metadata"] in (True, "true", "1", 1)
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.SENT and row.message_ts == earlier["ts"]


async def test_a_stale_claim_whose_message_never_went_out_is_posted(kit: Kit) -> None:
    await stale_claim(kit)
    await sender_round(kit.sender)
    assert posts(kit) == [MESSAGE.text]
    assert (await ledger_row(kit)).status == DeliveryStatus.SENT


async def test_a_stale_thread_reply_is_looked_for_in_its_thread(kit: Kit) -> None:
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    key = DeliveryKey(TEAM, CHANNEL, 7003, "thread_reply")
    await stale_claim(kit, key, thread_ts=card["ts"])
    earlier = await client.chat_postMessage(
        channel=CHANNEL, thread_ts=card["ts"], text="reply", metadata=key.metadata()
    )
    await sender_round(kit.sender)
    assert kit.slack.calls_to("conversations.replies")
    row = await ledger_row(kit, key)
    assert row.status == DeliveryStatus.SENT and row.message_ts == earlier["ts"]
    assert len(kit.slack.thread(CHANNEL, card["ts"])) == 1


async def test_unreadable_history_prefers_a_duplicate_to_a_loss(kit: Kit) -> None:
    kit.slack.add_channel(CHANNEL, is_member=False)  # public: postable, history unreadable
    await stale_claim(kit)
    await sender_round(kit.sender)
    assert posts(kit) == [MESSAGE.text]
    assert kit.slack.calls_to("conversations.history")[0].error == "not_in_channel"


async def test_an_unusable_channel_pauses_the_binding_and_gives_up_its_queue(kit: Kit) -> None:
    await kit.bind()
    kit.slack.fail_channel(CHANNEL, "not_in_channel")
    other = DeliveryKey(TEAM, CHANNEL, 7004, "alert")
    await kit.notifier.deliver(KEY, MESSAGE)
    await kit.notifier.deliver(other, MESSAGE)
    await kit.flush()
    assert len(kit.slack.calls_to("chat.postMessage")) == 1  # the second is not even tried
    assert (await ledger_row(kit)).status == DeliveryStatus.GAVE_UP
    assert (await ledger_row(kit, other)).last_error == "paused: not_in_channel"
    async with kit.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None and binding.is_paused
    assert binding.paused_reason == "the bot is not a member of the channel"
    assert (await kit.notifier.deliver(KEY, MESSAGE)).outcome == Outcome.GAVE_UP


async def test_a_rate_limited_post_waits_in_the_queue_uncounted(kit: Kit) -> None:
    kit.slack.fail_next("chat.postMessage", "message_limit_exceeded", status=200)
    await kit.notifier.deliver(KEY, MESSAGE)
    await sender_round(kit.sender)
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.PENDING and row.attempts == 0
    assert row.last_error == "message_limit_exceeded"
    await sender_round(kit.sender)
    assert posts(kit) == []  # held until its wait is over
    async with kit.db.session() as session:
        await Outbox(session).delay(KEY.ledger_key, delay=-1)
    await kit.flush()
    assert posts(kit) == [MESSAGE.text]


async def test_a_refusal_is_retried_after_a_backoff_and_given_up_at_the_limit(kit: Kit) -> None:
    kit.slack.fail_next("chat.postMessage", "internal_error", status=200, times=5)
    await kit.notifier.deliver(KEY, MESSAGE)
    for attempt in range(1, 6):
        await sender_round(kit.sender)
        row = await ledger_row(kit)
        assert row.attempts == attempt
        async with kit.db.session() as session:
            await Outbox(session).delay(KEY.ledger_key, delay=-1)
    assert row.status == DeliveryStatus.GAVE_UP and posts(kit) == []
    assert (await kit.notifier.deliver(KEY, MESSAGE)).outcome == Outcome.GAVE_UP


async def test_no_answer_keeps_the_claim_for_recovery(kit: Kit) -> None:
    kit.slack.set_latency(1.0)
    impatient = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        pauses=kit.pauses,
        owner="worker:test:2:me",
        stale_after=STALE_AFTER,
        send_timeout=0.3,
        clock=kit.clock,
    )
    sender = other_sender(kit, impatient)
    await kit.notifier.deliver(KEY, MESSAGE)
    await sender_round(sender)
    row = await ledger_row(kit)
    assert row is not None and row.status == DeliveryStatus.CLAIMED
    kit.slack.set_latency(0)
    await sender.close()  # the team's sending lease goes back
    await sender_round(kit.sender)
    assert posts(kit) == []  # a fresh claim: still theirs
    # Later the claim is stale; the recovery looks in Slack first (the dropped call never
    # reached the fake's handler, so nothing is there) and then posts, once.
    await age_claim(kit, age=STALE_AFTER + 1)
    await sender_round(kit.sender)
    assert kit.slack.calls_to("conversations.history")
    assert posts(kit) == [MESSAGE.text]
    assert (await ledger_row(kit)).status == DeliveryStatus.SENT


async def test_a_rate_limited_recovery_keeps_its_claim_and_never_posts_blindly(kit: Kit) -> None:
    """Apps outside the Marketplace may read history once a minute: a recovery that meets the
    limit hands the claim back as it was and posts nothing; a later recovery settles it."""
    kit.slack.limit_history(every=60.0, messages=15)
    await stale_claim(kit)
    original = (await ledger_row(kit)).claimed_at
    client = await kit.clients.for_team(TEAM)
    posted = await client.chat_postMessage(
        channel=CHANNEL, text="posted before the crash", metadata=KEY.metadata()
    )
    await client.conversations_history(channel=CHANNEL)  # this minute's read is used up

    await sender_round(kit.sender)
    assert posts(kit) == ["posted before the crash"]  # no blind second post
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.CLAIMED and row.claimed_at == original

    history_calls = len(kit.slack.calls_to("conversations.history"))
    await sender_round(kit.sender)  # this process waits out the Retry-After
    assert len(kit.slack.calls_to("conversations.history")) == history_calls

    # A minute later (another replica, or this one after the wait) the read works and finds it.
    kit.slack.limit_history(every=60.0, messages=15)
    other = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        pauses=kit.pauses,
        owner="worker:test:2:other",
        stale_after=STALE_AFTER,
        clock=kit.clock,
    )
    await kit.sender.close()  # gives the team's sending lease to the other replica
    sender = other_sender(kit, other)
    await sender_round(sender)
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.SENT and row.message_ts == posted["ts"]
    assert posts(kit) == ["posted before the crash"]
    assert kit.slack.calls_to("conversations.history")[-1].args["limit"] == 15
    await sender.close()


async def test_a_message_owed_to_many_channels_is_one_string_in_memory(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wave owes one alert to every listening channel at once (25,000 rows in the alert
    benchmark): each row's payload is the same string, not a copy a channel; a reply in a
    thread of its own says where it goes, so it has its own."""
    owed: list[OutboxEntry] = []
    enqueue = Outbox.enqueue_many

    async def recording(self: Outbox, entries: Sequence[OutboxEntry], *, owner: str):  # type: ignore[no-untyped-def]
        owed.extend(entries)
        return await enqueue(self, entries, owner=owner)

    monkeypatch.setattr(Outbox, "enqueue_many", recording)
    alert = Message(text="backup failed")
    for n in range(3):
        await kit.notifier.deliver(DeliveryKey(TEAM, f"C{n}", 7002, "alert"), alert)
        await kit.notifier.deliver(
            DeliveryKey(TEAM, f"C{n}", 7003, "thread_reply"), alert, thread_ts=f"{n}.1"
        )
    alerts = [e.payload for e in owed if e.key[3] == "alert"]
    replies = [e.payload for e in owed if e.key[3] == "thread_reply"]
    assert len(alerts) == 3 and len({id(p) for p in alerts}) == 1
    assert len({p for p in replies}) == 3
