"""The notifier's exactly-once rules against a real ledger and the fake Slack."""

from __future__ import annotations

from sqlalchemy import update

from bot.slack.deliveries import ChannelPacer, DeliveryKey
from bot.slack.messages import Message
from bot.slack.notifier import Notifier, Outcome
from storage.models import Delivery, DeliveryStatus
from storage.repositories import BindingRepository, DeliveryLedger
from storage.repositories._sql import db_now
from tests.constants import CHANNEL, TEAM
from tests.services.kit import STALE_AFTER, Kit

KEY = DeliveryKey(TEAM, CHANNEL, 7002, "alert")
MESSAGE = Message(text=":x: Snapshot 7002 of Nightly CRM (456) failed")


def posts(kit: Kit) -> list[str]:
    return [c.args["text"] for c in kit.slack.calls_to("chat.postMessage") if c.ok]


async def ledger_row(kit: Kit, key: DeliveryKey = KEY):  # type: ignore[no-untyped-def]
    async with kit.db.session() as session:
        rows = await DeliveryLedger(session).get_many([key.ledger_key])
    return rows.get(key.ledger_key)


async def stale_claim(kit: Kit, key: DeliveryKey = KEY, *, age: float = 60.0) -> None:
    async with kit.db.session() as session:
        claimed = await DeliveryLedger(session).claim_many(
            [key.ledger_key], owner="worker:dead:1:x", age=age
        )
    assert claimed == {key.ledger_key}


async def age_claim(kit: Kit, key: DeliveryKey = KEY, *, age: float) -> None:
    """Moves a claim's time `age` seconds into the past (the database's clock judges it)."""
    async with kit.db.session() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.snapshot_id == key.snapshot_id, Delivery.kind == key.kind)
            .values(claimed_at=db_now(session, plus_seconds=-age))
        )


async def test_delivers_once_and_records_the_ts(kit: Kit) -> None:
    first = await kit.notifier.deliver(KEY, MESSAGE)
    second = await kit.notifier.deliver(KEY, MESSAGE)
    assert first.outcome == Outcome.SENT and second.outcome == Outcome.ALREADY_SENT
    assert first.ts == second.ts and len(posts(kit)) == 1
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.SENT and row.message_ts == first.ts
    call = kit.slack.calls_to("chat.postMessage")[0]
    assert call.args["metadata"]["event_payload"]["key"] == KEY.label
    assert kit.metrics.alerts_sent._value.get() == 1


async def test_a_fresh_claim_of_someone_else_is_left_to_them(kit: Kit) -> None:
    await stale_claim(kit, age=1.0)
    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.BUSY and posts(kit) == []


async def test_a_stale_claim_whose_message_is_in_slack_is_only_recorded(kit: Kit) -> None:
    await stale_claim(kit)
    client = await kit.clients.for_team(TEAM)
    earlier = await client.chat_postMessage(
        channel=CHANNEL, text="posted before the crash", metadata=KEY.metadata()
    )
    await client.chat_postMessage(channel=CHANNEL, text="something else")
    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.ALREADY_SENT and result.ts == earlier["ts"]
    assert posts(kit) == ["posted before the crash", "something else"]
    history = kit.slack.calls_to("conversations.history")[-1].args
    assert history["include_all_metadata"] in (True, "true", "1", 1)
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.SENT and row.message_ts == earlier["ts"]


async def test_a_stale_claim_whose_message_never_went_out_is_posted(kit: Kit) -> None:
    await stale_claim(kit)
    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.SENT and posts(kit) == [MESSAGE.text]


async def test_a_stale_thread_reply_is_looked_for_in_its_thread(kit: Kit) -> None:
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    key = DeliveryKey(TEAM, CHANNEL, 7003, "thread_reply")
    await stale_claim(kit, key)
    earlier = await client.chat_postMessage(
        channel=CHANNEL, thread_ts=card["ts"], text="reply", metadata=key.metadata()
    )
    result = await kit.notifier.deliver(key, MESSAGE, thread_ts=card["ts"])
    assert result.outcome == Outcome.ALREADY_SENT and result.ts == earlier["ts"]
    assert kit.slack.calls_to("conversations.replies")


async def test_unreadable_history_prefers_a_duplicate_to_a_loss(kit: Kit) -> None:
    kit.slack.add_channel(CHANNEL, is_member=False)  # public: postable, history unreadable
    await stale_claim(kit)
    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.SENT and posts(kit) == [MESSAGE.text]
    assert kit.slack.calls_to("conversations.history")[0].error == "not_in_channel"


async def test_an_unusable_channel_pauses_the_binding_and_releases_the_claim(kit: Kit) -> None:
    await kit.bind()
    kit.slack.fail_channel(CHANNEL, "not_in_channel")
    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.PAUSED
    assert await ledger_row(kit) is None
    async with kit.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None and binding.is_paused
    assert binding.paused_reason == "the bot is not a member of the channel"


async def test_a_rate_limited_post_releases_the_claim_for_a_retry(kit: Kit) -> None:
    kit.slack.fail_next("chat.postMessage", "message_limit_exceeded", status=200)
    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.FAILED and result.error == "message_limit_exceeded"
    assert await ledger_row(kit) is None
    retried = await kit.notifier.deliver(KEY, MESSAGE)
    assert retried.outcome == Outcome.SENT and posts(kit) == [MESSAGE.text]


async def test_no_answer_keeps_the_claim_for_recovery(kit: Kit) -> None:
    kit.slack.set_latency(1.0)
    impatient = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        owner="worker:test:2:me",
        stale_after=STALE_AFTER,
        send_timeout=0.3,
        clock=kit.clock,
    )
    result = await impatient.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.UNKNOWN
    row = await ledger_row(kit)
    assert row is not None and row.status == DeliveryStatus.CLAIMED
    kit.slack.set_latency(0)
    # Later the claim is stale; the recovery looks in Slack first (the dropped call never
    # reached the fake's handler, so nothing is there) and then posts, once.
    await age_claim(kit, age=STALE_AFTER + 1)
    recovered = await kit.notifier.deliver(KEY, MESSAGE)
    assert kit.slack.calls_to("conversations.history")
    assert recovered.outcome == Outcome.SENT and posts(kit) == [MESSAGE.text]


def test_pacer_spaces_posts_per_channel_and_refuses_long_waits() -> None:
    now = [100.0]
    pacer = ChannelPacer(1.0, clock=lambda: now[0])
    assert pacer.reserve(("T", "A"), max_wait=2) == 0
    assert pacer.reserve(("T", "A"), max_wait=2) == 1.0
    assert pacer.reserve(("T", "A"), max_wait=2) == 2.0
    assert pacer.reserve(("T", "A"), max_wait=2) is None  # would wait 3 s
    assert pacer.reserve(("T", "B"), max_wait=2) == 0  # another channel is not held up
    now[0] += 10
    assert pacer.reserve(("T", "A"), max_wait=2) == 0


async def test_a_full_channel_defers_without_claiming(kit: Kit) -> None:
    busy = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        owner="worker:test:3:me",
        stale_after=STALE_AFTER,
        max_pace_wait=0.0,
        clock=kit.clock,
    )
    assert (await busy.deliver(KEY, MESSAGE)).outcome == Outcome.SENT
    other = DeliveryKey(TEAM, CHANNEL, 7004, "alert")
    assert (await busy.deliver(other, MESSAGE)).outcome == Outcome.DEFERRED
    assert await ledger_row(kit, other) is None


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

    result = await kit.notifier.deliver(KEY, MESSAGE)
    assert result.outcome == Outcome.UNKNOWN and result.error == "history_ratelimited"
    assert posts(kit) == ["posted before the crash"]  # no blind second post
    row = await ledger_row(kit)
    assert row.status == DeliveryStatus.CLAIMED and row.claimed_at == original

    history_calls = len(kit.slack.calls_to("conversations.history"))
    again = await kit.notifier.deliver(KEY, MESSAGE)
    assert again.outcome == Outcome.BUSY  # this process waits out the Retry-After
    assert len(kit.slack.calls_to("conversations.history")) == history_calls

    # A minute later (another replica, or this one after the wait) the read works and finds it.
    kit.slack.limit_history(every=60.0, messages=15)
    other = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        owner="worker:test:2:other",
        stale_after=STALE_AFTER,
        clock=kit.clock,
    )
    settled = await other.deliver(KEY, MESSAGE)
    assert settled.outcome == Outcome.ALREADY_SENT and settled.ts == posted["ts"]
    assert posts(kit) == ["posted before the crash"]
    assert kit.slack.calls_to("conversations.history")[-1].args["limit"] == 15
