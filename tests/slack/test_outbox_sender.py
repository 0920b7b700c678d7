"""The sender: owed messages go out once, by priority, per channel in order, at Slack's pace;
a 429 holds its bucket; two replicas share a team's pace through its sending lease."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.devtools.slack_tiers import Limit, SlackTiers
from bot.services.announcements import Outcome
from bot.slack.delivery.keys import DeliveryKey
from bot.slack.delivery.notifier import Notifier
from bot.slack.delivery.pacing import POST, Pace, PaceConfig
from bot.slack.delivery.senders import REREAD_AT_MOST, OutboxSender
from bot.slack.messages import Message
from storage.models import Delivery, DeliveryStatus
from storage.repositories.outbox import Outbox, OutboxEntry, QueuedRow
from tests.constants import CHANNEL, OTHER_CHANNEL, TEAM
from tests.outbox_kit import Ticks
from tests.services.kit import STALE_AFTER, Kit


def key(snapshot: int, kind: str = "alert", channel: str = CHANNEL) -> DeliveryKey:
    return DeliveryKey(TEAM, channel, snapshot, kind)


def text(n: int) -> Message:
    return Message(text=f"message {n}")


def posted(kit: Kit, channel: str | None = None) -> list[str]:
    return [
        c.args["text"]
        for c in kit.slack.calls_to("chat.postMessage")
        if c.ok and (channel is None or c.args["channel"] == channel)
    ]


def second_sender(kit: Kit, pace: Pace | None = None) -> OutboxSender:
    owner = "worker:test:2:other"
    notifier = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        pauses=kit.pauses,
        owner=owner,
        stale_after=STALE_AFTER,
    )
    return OutboxSender(
        notifier=notifier,
        db=kit.db,
        batcher=kit.batcher,
        owner=owner,
        pace=pace or Pace(PaceConfig()),
    )


async def round_of(sender: OutboxSender) -> None:
    sender.force_next_round()
    await sender.drain()
    await sender.settle()


async def test_owing_posts_nothing_and_the_sender_posts_it_once(kit: Kit) -> None:
    first = await kit.notifier.deliver(key(1), text(1))
    again = await kit.notifier.deliver(key(1), text(1))
    assert first.outcome == again.outcome == Outcome.QUEUED
    assert posted(kit) == []
    await kit.flush()
    await kit.flush()
    assert posted(kit) == ["message 1"]
    done = await kit.notifier.deliver(key(1), text(1))
    assert done.outcome == Outcome.ALREADY_SENT and done.ts is not None


async def test_replies_and_alerts_go_before_notes_and_edits(kit: Kit) -> None:
    await kit.notifier.update_once(key(1, "card:Running"), "1.1", text(1))
    await kit.notifier.deliver(key(2, "note:30"), text(2), thread_ts="1.1")
    await kit.notifier.deliver(key(3, "thread_reply"), text(3), thread_ts="1.1")
    await kit.notifier.deliver(key(4), text(4))
    await kit.flush()
    posts = [c.args["text"] for c in kit.slack.calls if c.method == "chat.postMessage"]
    assert posts == ["message 3", "message 4", "message 2"]  # by priority, then age
    # The edit goes in a lane of its own (it changes a message already there): first of its
    # lane, beside the reply, not after every post of the channel.
    first_round = {c.args["text"] for c in kit.slack.calls[:2]}
    assert first_round == {"message 3", "message 1"}


async def test_a_runs_card_edit_waits_for_its_reply_held_by_the_channels_pace(kit: Kit) -> None:
    """The reply before the card's final state (guarantees: a snapshot started from Slack),
    though an edit has a lane of its own: here the channel's pace holds the reply back, behind
    an alert owed before it (so the reply is not even among the rows a round reads)."""
    kit.sender.pace = Pace(PaceConfig.parse("channel=1/3600+1"))
    assert kit.sender.pace.take(TEAM, POST, CHANNEL)  # the card spent the channel's post
    card = kit.slack.seed_message(CHANNEL, "card").ts
    await kit.notifier.deliver(key(6), text(0))
    await kit.notifier.deliver(key(7, "thread_reply"), text(1), thread_ts=card)
    await kit.notifier.update_once(key(7, "card:Succeeded"), card, text(2))
    other = kit.slack.seed_message(OTHER_CHANNEL, "another channel's card").ts
    await kit.notifier.update_once(key(8, "card:Running", OTHER_CHANNEL), other, text(3))
    for _ in range(3):
        await round_of(kit.sender)
    assert [c.args["text"] for c in kit.slack.calls if c.ok] == ["message 3"]
    kit.sender.pace = Pace(PaceConfig.parse("channel=100/1+100"))  # the channel is free again
    await kit.flush()
    assert [c.args["text"] for c in kit.slack.calls if c.ok] == [
        "message 3",
        "message 0",
        "message 1",
        "message 2",
    ]


async def test_pending_edits_of_one_message_coalesce_to_the_latest(kit: Kit) -> None:
    card = kit.slack.seed_message(CHANNEL, "card").ts
    for n, state in enumerate(["Queued", "Running", "Succeeded"]):
        await kit.notifier.update_once(key(9, f"card:{state}"), card, text(n))
    await kit.flush()
    updates = [c.args["text"] for c in kit.slack.calls_to("chat.update") if c.ok]
    assert updates == ["message 2"]
    assert kit.slack.message(CHANNEL, card).text == "message 2"
    async with kit.db.session() as session:
        statuses = set(await session.scalars(select(Delivery.status)))
    assert statuses == {DeliveryStatus.SENT}


async def test_a_channel_is_paced_and_keeps_its_order_while_others_go(kit: Kit) -> None:
    kit.sender.pace = Pace(PaceConfig.parse("channel=1/3600+2"))
    for n in range(4):
        await kit.notifier.deliver(key(n), text(n))
    await kit.notifier.deliver(key(10, channel=OTHER_CHANNEL), text(10))
    for _ in range(3):
        await round_of(kit.sender)
    assert posted(kit, CHANNEL) == ["message 0", "message 1"]
    assert posted(kit, OTHER_CHANNEL) == ["message 10"]
    async with kit.db.session() as session:
        waiting = await session.scalar(
            select(func.count()).where(Delivery.status == DeliveryStatus.PENDING)
        )
    assert waiting == 2


async def test_a_429_holds_the_bucket_and_the_row_waits(kit: Kit) -> None:
    kit.sender.pace = Pace(PaceConfig.parse("channel=100/1+100"))
    kit.slack.fail_next("chat.postMessage", retry_after=30)
    await kit.notifier.deliver(key(1), text(1))
    await kit.notifier.deliver(key(2), text(2))
    for _ in range(3):
        await round_of(kit.sender)
    assert posted(kit) == []
    assert len(kit.slack.calls_to("chat.postMessage")) == 1  # no retry inside the client
    assert kit.sender.pace.wait(TEAM, "chat.postMessage", CHANNEL) > 25


async def test_one_replica_sends_for_a_team_and_the_other_takes_over_when_it_stops(
    kit: Kit,
) -> None:
    other = second_sender(kit, Pace(PaceConfig.parse("channel=1/1+5")))
    await round_of(kit.sender)  # nothing queued yet: no lease taken
    await kit.notifier.deliver(key(1), text(1))
    await round_of(other)  # the other replica leases the team first
    await round_of(kit.sender)
    assert posted(kit) == ["message 1"]
    kit.slack.fail_next("chat.postMessage", retry_after=30)
    await kit.notifier.deliver(key(2), text(2))
    await round_of(other)  # 429: the other replica holds the bucket
    for _ in range(3):
        await round_of(kit.sender)  # and this one, without the team's lease, sends nothing
    assert posted(kit) == ["message 1"]
    assert other.pace.wait(TEAM, "chat.postMessage", CHANNEL) > 25
    await other.close()  # gives the lease back
    async with kit.db.session() as session:
        await Outbox(session).delay(key(2).ledger_key, delay=-1)
    await round_of(kit.sender)
    assert posted(kit) == ["message 1", "message 2"]


async def test_a_paused_channel_gives_up_what_it_had_queued(kit: Kit) -> None:
    await kit.bind()
    kit.slack.fail_channel(CHANNEL, "is_archived")
    for n in range(3):
        await kit.notifier.deliver(key(n), text(n))
    await kit.flush()
    assert len(kit.slack.calls_to("chat.postMessage")) == 1  # one refusal, not three
    result = await kit.notifier.deliver(key(2), text(2))
    assert result.outcome == Outcome.GAVE_UP


async def test_a_deep_backlog_is_read_a_batch_at_a_time(kit: Kit) -> None:
    """100,000 queued rows: a round reads one batch, so memory does not follow the backlog."""
    entries = [
        OutboxEntry((TEAM, f"C{n % 100:04d}", n, "alert"), 0, '{"m":{"text":"x"}}')
        for n in range(100_000)
    ]
    async with kit.db.session() as session:
        await Outbox(session).enqueue_many(entries, owner="worker:test:1:me")
    ticks = Ticks()
    kit.sender.pace = Pace(
        PaceConfig.parse("channel=1/3600+1,chat.postMessage=9999/1+9999"), clock=ticks
    )
    kit.sender.pace.wait(TEAM, POST)
    ticks.now += 10.0  # the team's burst has grown from its start to the figure
    tracemalloc.start()
    try:
        await round_of(kit.sender)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kit.slack.calls_to("chat.postMessage")) == 100  # the first row of each channel
    assert peak < 40 * 1024 * 1024, f"a round of a 100,000-row backlog peaked at {peak:,} bytes"


async def wave(kit: Kit, ticks: Ticks, channels: int, *, step: float = 0.02) -> int:
    """One alert in each of `channels` channels of one team, sent in rounds `step` seconds
    apart until all are in Slack; returns how many rounds that took."""
    for n in range(channels):
        await kit.notifier.deliver(key(n, channel=f"C{n:04d}"), text(n))
    for rounds in range(1, 5_000):
        await round_of(kit.sender)
        if len(posted(kit)) == channels:
            return rounds
        ticks.now += step
    raise AssertionError(f"{len(posted(kit))} of {channels} alerts posted")


async def test_the_default_pace_keeps_a_wide_wave_under_the_workspace_limit(kit: Kit) -> None:
    """150 channels of one team, one alert each, against Slack's documented tiers: the default
    pace must not send past the workspace-wide limit of `chat.postMessage`: the bot paces
    itself rather than learning the limits from 429s
    (docs/reference/guarantees.md#delivery-at-slacks-pace)."""
    ticks = Ticks()
    kit.slack.enable_tiers(SlackTiers.documented(), clock=ticks)
    kit.sender.pace = Pace(PaceConfig(), clock=ticks)
    await wave(kit, ticks, 150)
    assert kit.slack.rate_limited_calls("chat.postMessage") == 0


async def test_a_workspace_limit_below_the_pace_is_learned_from_its_first_429s(kit: Kit) -> None:
    """A workspace whose limit is lower than the configured pace (Slack publishes no figure):
    the first burst meets 429s, and from then on the team's posts slow down instead of
    meeting a 429 on every call for the rest of the wave."""
    ticks = Ticks()
    slack_limit = Limit(per_minute=240, burst=4)  # 4 a second across the workspace
    kit.slack.enable_tiers(
        SlackTiers.documented().with_limits({"chat.postMessage": slack_limit}), clock=ticks
    )
    kit.sender.pace = Pace(
        PaceConfig.parse("channel=1/1+1,chat.postMessage=6000/60+100"), clock=ticks
    )
    await wave(kit, ticks, 40, step=0.05)
    refused = kit.slack.rate_limited_calls("chat.postMessage")
    first_burst = 40 - slack_limit.burst  # sent before Slack had said anything
    assert refused - first_burst <= 8, f"{refused} posts answered 429"
    assert posted(kit) and len(set(posted(kit))) == 40


async def test_a_channels_next_message_goes_when_its_pace_allows_not_a_read_later(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a costly read is reused (a deep backlog), a channel whose post went and whose
    pace allows the next one sends it from that read: before, a read held only each channel's
    first row, so every channel's next post waited for the next read too, and a wave of 25
    alerts a channel took ~1.5 s an alert instead of one (benchmarks, alerts section)."""
    read = Outbox.next_rows

    async def slow_read(self: Outbox, *args: Any, **kwargs: Any) -> list[QueuedRow]:
        await asyncio.sleep(0.2)  # a deep backlog's read: reused for up to a second
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(Outbox, "next_rows", slow_read)
    ticks = Ticks()
    kit.sender.pace = Pace(PaceConfig.parse("channel=1/1+1"), clock=ticks)
    assert kit.sender.pace.take(TEAM, POST, "C2")  # C2's post is spent: its row waits
    for n, channel in enumerate(["C1", "C1", "C2"]):
        await kit.notifier.deliver(key(n, channel=channel), text(n))
    kit.sender.force_next_round()
    await kit.sender.drain()
    await kit.sender.settle()
    assert posted(kit) == ["message 0"]
    ticks.now += 1.0  # one second later: both channels may post again
    await kit.sender.drain()
    await kit.sender.settle()
    assert sorted(posted(kit)) == ["message 0", "message 1", "message 2"]


async def test_a_channels_next_post_does_not_wait_for_the_last_ones_sent_mark(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel's posts go one at a time, in order, but its next post need not wait for the
    last one's "sent" mark to be written (a write batcher's flush: 200 ms on average in the
    alert benchmark, a fifth of a channel's pace): once Slack answered, the post is there."""
    gate = asyncio.Event()
    mark = Notifier._mark_sent

    async def slow_mark(self: Notifier, key: DeliveryKey, *args: Any) -> None:
        await gate.wait()
        await mark(self, key, *args)

    monkeypatch.setattr(Notifier, "_mark_sent", slow_mark)
    kit.sender.pace = Pace(PaceConfig.parse("channel=100/1+100"))
    for n in range(2):
        await kit.notifier.deliver(key(n), text(n))
    for _ in range(2):
        kit.sender.force_next_round()
        await kit.sender.drain()
        await asyncio.sleep(0.05)  # the post is answered; its mark waits at the gate
    assert posted(kit) == ["message 0", "message 1"]
    gate.set()
    await kit.sender.settle()
    async with kit.db.session() as session:
        sent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        )
    assert sent == 2


async def test_the_senders_sent_marks_find_their_rows_by_primary_key(kit: Kit) -> None:
    """A sent mark finds its row by id, not by its key: on PostgreSQL, with the statistics of
    a table that had few rows when last analyzed (a new install's first wave), a key lookup
    went by the (team, kind, sent_at) index and read every alert row of the team for each
    mark: 25,000 marks took 136 s of the database's time in the alert benchmark."""
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE deliveries SET status"):
            statements.append(" ".join(statement.split()))

    engine = kit.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        card = kit.slack.seed_message(CHANNEL, "card").ts
        await kit.notifier.deliver(key(1), text(1))
        await kit.notifier.update_once(key(2, "card:Succeeded"), card, text(2))
        await kit.flush()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    marks = [s for s in statements if "message_ts" in s and "deliveries.target" not in s]
    assert marks, statements  # the post's and the edit's marks: one executemany, or two
    for statement in marks:
        where = statement.split(" WHERE ", 1)[1]
        assert where.startswith("deliveries.id = "), statement


async def test_a_costly_read_of_the_queue_is_reused_not_repeated_every_round(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the queue ranks every pending row; while that read is costly (a deep backlog)
    the rounds that follow pick from what it found, even as more is owed, and read again once
    `READ_SHARE` times its cost has passed (at most `REREAD_AT_MOST`)."""
    reads = 0
    read = Outbox.next_rows

    async def slow_read(self: Outbox, *args: Any, **kwargs: Any) -> list[QueuedRow]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.2)  # a deep backlog's read: reused for up to a second
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(Outbox, "next_rows", slow_read)
    kit.sender.pace = Pace(PaceConfig.parse("channel=1/1+1,chat.postMessage=1/3600+1"))
    await kit.notifier.deliver(key(0, channel="C0"), text(0))
    kit.sender.force_next_round()
    for n in range(1, 5):  # something new is owed before each round: no round sits quiet
        await kit.notifier.deliver(key(n, channel=f"C{n}"), text(n))
        await kit.sender.drain()
    assert reads == 1
    await kit.sender.settle()
    assert posted(kit) == ["message 0"]  # the team's one call; the rest wait for its pace
    await asyncio.sleep(REREAD_AT_MOST)
    await kit.notifier.deliver(key(9, channel="C9"), text(9))
    await kit.sender.drain()
    assert reads == 2
