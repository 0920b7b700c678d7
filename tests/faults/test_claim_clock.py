"""Replicas whose clocks differ: a claim or lease is judged by the database's clock, not theirs.

Two senders (two replicas) share one database; the second one's clock runs 9 s ahead. With
a stale window of 5 s, judging the first one's claim by the second one's clock would make a
claim still being posted look stale, and both would post. Slack is slow to post (the stand-in
answers chat.postMessage after 1.5 s), so the first post is still in flight when the second
replica tries, and not yet in the channel's history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.slack.delivery.keys import DeliveryKey
from bot.slack.delivery.notifier import Notifier
from bot.slack.delivery.pacing import Pace, PaceConfig
from bot.slack.delivery.senders import OutboxSender
from bot.slack.messages import Message
from storage.batching import WriteBatcher
from storage.db import Database
from storage.models import Delivery, WorkerLease
from storage.repositories import AlertCursorRepository, DeliveryLedger, WatchRepository
from storage.repositories._sql import db_now
from storage.repositories.outbox import Outbox
from tests.constants import CHANNEL, TEAM
from tests.services.kit import Kit

KEY = DeliveryKey(TEAM, CHANNEL, 7201, "alert")
MESSAGE = Message(text=":x: Snapshot 7201 of Nightly CRM (456) failed")
SKEW = timedelta(seconds=9)
STALE = 5.0


def clock(offset: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + offset


async def claimed(db: Database, key: DeliveryKey) -> Delivery | None:
    async with db.session() as session:
        rows = await DeliveryLedger(session).get_many([key.ledger_key])
    return rows.get(key.ledger_key)


async def test_two_replicas_with_skewed_clocks_never_both_send(kit: Kit, replica: Database) -> None:
    """The first replica's send is in flight when it loses the team's sending lease; the
    second, 9 s ahead, takes the team over but must not judge the claim stale by its clock."""
    other_batcher = WriteBatcher(replica)
    senders = []
    replicas = [(kit.db, kit.batcher, timedelta(0)), (replica, other_batcher, SKEW)]
    for n, (db, batcher, offset) in enumerate(replicas):
        notifier = Notifier(
            slack=kit.clients,
            batcher=batcher,
            pauses=kit.pauses,
            owner=f"worker:replica{n}",
            stale_after=STALE,
            clock=clock(offset),
        )
        senders.append(
            OutboxSender(
                notifier=notifier,
                db=db,
                batcher=batcher,
                owner=notifier.owner,
                pace=Pace(PaceConfig.parse("off")),
                clock=clock(offset),
            )
        )
    kit.slack.set_latency(1.5, method="chat.postMessage")
    try:
        await kit.notifier.deliver(KEY, MESSAGE)
        senders[0].force_next_round()
        await senders[0].drain()  # claimed, posting (slowly)
        async with kit.db.session() as session:  # its lease runs out meanwhile
            await session.execute(update(WorkerLease).values(lease_until=None, lease_owner=None))
        for _ in range(3):
            senders[1].force_next_round()
            await senders[1].drain()
            await senders[1].settle()
        await senders[0].settle()
    finally:
        for sender in senders:
            await sender.close()
        await other_batcher.close()

    posts = [c for c in kit.slack.calls_to("chat.postMessage") if c.ok]
    assert len(posts) == 1, [c.args["text"] for c in posts]
    row = await claimed(kit.db, KEY)
    assert row is not None and row.status == "sent" and row.claimed_by == "worker:replica0"


async def test_a_replica_ahead_does_not_take_a_live_watch_lease(
    db: Database, replica: Database
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        watch = await WatchRepository(session).add(
            team_id=TEAM,
            channel_id=CHANNEL,
            message_ts="1.1",
            workspace_id=123,
            backup_id=456,
            backup_name=None,
            snapshot_id=7202,
            started_by="U1",
            started_at=now,
            next_poll_at=now,
        )
    async with db.session() as session:
        mine = await WatchRepository(session).claim_due("A", now, 10, lease_seconds=STALE)
    async with replica.session() as session:
        theirs = await WatchRepository(session).claim_due("B", now + SKEW, 10, STALE)

    assert [w.id for w in mine] == [watch.id] and theirs == []


async def test_a_replica_ahead_does_not_take_a_live_cursor_lease(
    db: Database, replica: Database
) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        await AlertCursorRepository(session).ensure(123, 456, None, now)
    async with db.session() as session:
        mine = await AlertCursorRepository(session).claim_due("A", now, 10, STALE)
    async with replica.session() as session:
        theirs = await AlertCursorRepository(session).claim_due("B", now + SKEW, 10, STALE)

    assert len(mine) == 1 and theirs == []


async def test_a_recovery_ends_well_inside_the_stale_window(kit: Kit) -> None:
    """A read-back over many pages of a slow Slack is cut off, not left to run past the window.

    Otherwise another replica adopts the claim while this one may still post.
    """
    for n in range(2200):  # 11 pages of 200, none with the key
        kit.slack.seed_message(CHANNEL, f"chatter {n}")
    await kit.notifier.deliver(KEY, MESSAGE)
    async with kit.db.session() as session:
        [row] = await Outbox(session).next_rows(1)
        assert await Outbox(session).claim([row.id], owner="dead")
        await session.execute(
            update(Delivery).values(claimed_at=db_now(session, plus_seconds=-60.0))
        )
    kit.slack.set_latency(0.3)
    notifier = Notifier(
        slack=kit.clients,
        batcher=kit.batcher,
        pauses=kit.pauses,
        owner="worker:r",
        stale_after=3.0,
        send_timeout=1.0,
    )
    sender = OutboxSender(
        notifier=notifier,
        db=kit.db,
        batcher=kit.batcher,
        owner="worker:r",
        pace=Pace(PaceConfig()),
    )

    started = time.monotonic()
    await sender.drain()
    await sender.settle()
    elapsed = time.monotonic() - started
    await sender.close()

    assert elapsed < 3.0
    assert [c for c in kit.slack.calls_to("chat.postMessage") if c.ok] == []
    row = await claimed(kit.db, KEY)
    assert row is not None and row.status == "claimed" and row.claimed_by == "worker:r"
