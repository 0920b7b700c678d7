from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.db import Database
from storage.models import DeliveryKind, DeliveryStatus, note_kind
from storage.repositories import DeliveryLedger
from tests.storage.conftest import NOW

KEY = ("T1", "C1", 7001, DeliveryKind.THREAD_REPLY)


async def _claim(db: Database, owner: str, key=KEY, at=NOW) -> bool:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await DeliveryLedger(session).claim(*key, owner=owner, now=at)


async def test_a_second_claim_of_the_same_delivery_is_refused(db: Database) -> None:
    assert await _claim(db, "A") is True
    assert await _claim(db, "B") is False
    assert await _claim(db, "A") is False  # not even the owner gets it twice
    # Any other part of the key is another delivery.
    assert await _claim(db, "B", ("T1", "C1", 7001, note_kind(30))) is True
    assert await _claim(db, "B", ("T1", "C2", 7001, DeliveryKind.THREAD_REPLY)) is True
    assert await _claim(db, "B", ("T1", "C1", 7002, DeliveryKind.THREAD_REPLY)) is True


async def test_claim_then_mark_sent_records_the_message(db: Database) -> None:
    later = NOW + timedelta(seconds=2)
    await _claim(db, "A")
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.mark_sent(*KEY, message_ts="1700000001.000100", now=later)
        assert not await ledger.mark_sent("T1", "C1", 1, "alert", message_ts=None, now=later)
    async with db.session() as session:
        row = await DeliveryLedger(session).get(*KEY)
        assert await DeliveryLedger(session).release(*KEY, owner="A") is False  # sent stays

    assert row is not None and row.status == DeliveryStatus.SENT
    assert (row.message_ts, row.sent_at, row.claimed_by) == ("1700000001.000100", later, "A")
    assert await _claim(db, "B") is False


async def test_concurrent_claims_from_two_replicas_have_exactly_one_winner(
    db: Database, replica: Database
) -> None:
    for snapshot_id in range(1, 6):
        key = ("T1", "C1", snapshot_id, DeliveryKind.ALERT)
        results = await asyncio.gather(
            _claim(db, "A", key), _claim(replica, "B", key), _claim(replica, "C", key)
        )
        assert sorted(results) == [False, False, True]


async def test_a_claim_waiting_on_an_uncommitted_one_loses_if_it_commits(
    db: Database, replica: Database
) -> None:
    async with db.session() as first:
        assert await DeliveryLedger(first).claim(*KEY, owner="A", now=NOW)
        second = asyncio.create_task(_claim(replica, "B"))
        await asyncio.sleep(0.05)  # let it reach the database; correctness does not depend on it
    assert await asyncio.wait_for(second, timeout=30) is False


async def test_a_claim_waiting_on_an_uncommitted_one_wins_if_it_rolls_back(
    db: Database, replica: Database
) -> None:
    class Abort(Exception):
        pass

    try:
        async with db.session() as first:
            assert await DeliveryLedger(first).claim(*KEY, owner="A", now=NOW)
            second = asyncio.create_task(_claim(replica, "B"))
            await asyncio.sleep(0.05)
            raise Abort
    except Abort:
        pass
    assert await asyncio.wait_for(second, timeout=30) is True


async def test_release_lets_a_failed_delivery_be_claimed_again(db: Database) -> None:
    await _claim(db, "A")
    async with db.session() as session:
        assert await DeliveryLedger(session).release(*KEY, owner="B") is False  # not B's claim
        assert await DeliveryLedger(session).release(*KEY, owner="A") is True
    assert await _claim(db, "B") is True


async def test_stale_claims_are_found_and_taken_over_once(db: Database, replica: Database) -> None:
    await _claim(db, "crashed", at=NOW - timedelta(minutes=10))
    await _claim(db, "alive", ("T1", "C1", 7002, "alert"), at=NOW)
    sent = ("T1", "C1", 7003, "alert")
    await _claim(db, "done", sent, at=NOW - timedelta(minutes=10))
    async with db.session() as session:
        await DeliveryLedger(session).mark_sent(*sent, message_ts="1.2", now=NOW)

    cutoff = NOW - timedelta(minutes=5)
    async with db.session() as session:
        stale = await DeliveryLedger(session).stale_claims(cutoff)
    assert [(row.snapshot_id, row.claimed_by) for row in stale] == [(7001, "crashed")]

    async def take(database: Database, owner: str) -> bool:
        async with database.session() as session:
            return await DeliveryLedger(session).take_over(
                stale[0].id, owner=owner, now=NOW, older_than=cutoff
            )

    results = await asyncio.gather(take(db, "R1"), take(replica, "R2"))
    assert sorted(results) == [False, True]
    async with db.session() as session:
        assert await DeliveryLedger(session).stale_claims(cutoff) == []
