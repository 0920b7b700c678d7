"""The delivery ledger's rules, through the calls the notifier makes (`claim_many`, `get_many`,
`mark_sent_many`, `release`, `take_over`), one key at a time and racing across replicas."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.db import Database
from storage.models import DeliveryKind, DeliveryStatus, note_kind
from storage.repositories import DeliveryLedger
from storage.repositories._sql import db_now
from storage.repositories.deliveries import LedgerKey, SentMark
from tests.storage.conftest import NOW

KEY: LedgerKey = ("T1", "C1", 7001, DeliveryKind.THREAD_REPLY)


async def _claim(db: Database, owner: str, key: LedgerKey = KEY, age: float = 0.0) -> bool:
    async with db.session() as session:
        return key in await DeliveryLedger(session).claim_many([key], owner=owner, age=age)


async def _claim_all(database: Database, owner: str, keys: list[LedgerKey]) -> set[LedgerKey]:
    async with database.session() as session:
        return await DeliveryLedger(session).claim_many(keys, owner=owner)


async def _rows(db: Database, keys: list[LedgerKey]):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await DeliveryLedger(session).get_many(keys)


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
    never_claimed: LedgerKey = ("T1", "C1", 1, DeliveryKind.ALERT)
    await _claim(db, "A")
    async with db.session() as session:
        await DeliveryLedger(session).mark_sent_many(
            [SentMark(KEY, "1700000001.000100", later), SentMark(never_claimed, None, later)]
        )
    async with db.session() as session:
        assert await DeliveryLedger(session).release(*KEY, owner="A") is False  # sent stays
    rows = await _rows(db, [KEY, never_claimed])

    assert list(rows) == [KEY]  # a mark without a claim makes no row
    row = rows[KEY]
    assert row.status == DeliveryStatus.SENT
    assert (row.message_ts, row.sent_at, row.claimed_by) == ("1700000001.000100", later, "A")
    assert await _claim(db, "B") is False


async def test_a_mark_by_row_id_records_that_row_beside_marks_by_key(db: Database) -> None:
    """A sender knows the id of the row it claimed and marks it by id (see `_MARK_SENT_BY_ID`);
    marks by key and by id go in one call, each to its own row only."""
    by_id: LedgerKey = ("T1", "C1", 7003, DeliveryKind.ALERT)
    untouched: LedgerKey = ("T1", "C2", 7003, DeliveryKind.ALERT)
    await _claim_all(db, "A", [KEY, by_id, untouched])
    row_id = (await _rows(db, [by_id]))[by_id].id
    async with db.session() as session:
        await DeliveryLedger(session).mark_sent_many(
            [SentMark(KEY, "1.1", NOW), SentMark(by_id, "2.2", NOW, row_id)]
        )
    rows = await _rows(db, [KEY, by_id, untouched])
    assert (rows[KEY].status, rows[KEY].message_ts) == (DeliveryStatus.SENT, "1.1")
    assert (rows[by_id].status, rows[by_id].message_ts) == (DeliveryStatus.SENT, "2.2")
    assert (rows[untouched].status, rows[untouched].message_ts) == (DeliveryStatus.CLAIMED, None)


async def test_concurrent_claims_from_two_replicas_have_exactly_one_winner(
    db: Database, replica: Database
) -> None:
    """Overlapping sets asked in opposite orders, each more than one INSERT: every key is won
    exactly once, and the two transactions do not deadlock on each other's rows."""
    keys = [("T1", "C1", snapshot, DeliveryKind.ALERT) for snapshot in range(1, 1202)]
    won = await asyncio.gather(
        _claim_all(db, "A", keys),
        _claim_all(replica, "B", keys[::-1]),
        _claim_all(replica, "C", keys[500:700]),
    )
    assert sorted(key for owned in won for key in owned) == sorted(keys)
    rows = await _rows(db, keys)
    for owner, owned in zip("ABC", won, strict=True):
        assert {rows[key].claimed_by for key in owned} <= {owner}


async def test_a_claim_waiting_on_an_uncommitted_one_loses_if_it_commits(
    db: Database, replica: Database
) -> None:
    async with db.session() as first:
        assert await DeliveryLedger(first).claim_many([KEY], owner="A") == {KEY}
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
            assert await DeliveryLedger(first).claim_many([KEY], owner="A") == {KEY}
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


async def test_a_stale_claim_is_taken_over_by_exactly_one_replica(
    db: Database, replica: Database
) -> None:
    """Losers of the claim read the rows and adopt only a stale, unsent one; one of them wins."""
    alive: LedgerKey = ("T1", "C1", 7002, DeliveryKind.ALERT)
    sent: LedgerKey = ("T1", "C1", 7003, DeliveryKind.ALERT)
    await _claim(db, "crashed", age=600)
    await _claim(db, "alive", alive)
    await _claim(db, "done", sent, age=600)
    async with db.session() as session:
        await DeliveryLedger(session).mark_sent_many([SentMark(sent, "1.2", NOW)])
    keys = [KEY, alive, sent]
    before = await _db_now(db)

    async def recover(database: Database, owner: str) -> list[LedgerKey]:
        async with database.session() as session:
            ledger = DeliveryLedger(session)
            assert await ledger.claim_many(keys, owner=owner) == set()
            rows = await ledger.get_many(keys)
            return [
                key
                for key in keys
                if await ledger.take_over(rows[key].id, owner=owner, idle_for=300)
            ]

    results = await asyncio.gather(recover(db, "R1"), recover(replica, "R2"))
    assert sorted(results) == [[], [KEY]]
    rows = await _rows(db, keys)
    winner = "R1" if results[0] else "R2"
    assert rows[KEY].claimed_by == winner and rows[KEY].claimed_at >= before
    assert (rows[alive].claimed_by, rows[sent].claimed_by) == ("alive", "done")
    assert rows[sent].status == DeliveryStatus.SENT


async def _db_now(db: Database) -> datetime:
    async with db.session() as session:
        now = await session.scalar(select(db_now(session)))
    assert now is not None and now.tzinfo is not None
    return now


async def test_claim_times_and_ages_are_the_database_clock(db: Database) -> None:
    """A claim's time is the database's now, whatever the caller's clock says."""
    old: LedgerKey = ("T1", "C1", 7002, DeliveryKind.ALERT)
    before = await _db_now(db)
    await _claim(db, "A")
    await _claim(db, "B", old, age=30)
    after = await _db_now(db)
    rows = await _rows(db, [KEY, old])
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.take_over(rows[KEY].id, owner="C", idle_for=20) is False
        assert await ledger.take_over(rows[old].id, owner="C", idle_for=20) is True
    assert before <= rows[KEY].claimed_at <= after
    assert abs((rows[KEY].claimed_at - rows[old].claimed_at).total_seconds() - 30) < 5


async def test_refusals_are_counted_until_the_delivery_is_given_up(db: Database) -> None:
    await _claim(db, "A")
    [row] = (await _rows(db, [KEY])).values()
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.record_failure(KEY, owner="B", error="x", max_attempts=2) is None
        first = await ledger.record_failure(KEY, owner="A", error="internal_error", max_attempts=2)
        assert first == (DeliveryStatus.FAILED, 1)
        assert not await ledger.take_over(row.id, owner="A", idle_for=60, status="failed")
        assert await ledger.take_over(row.id, owner="A", idle_for=0, status="failed")
        second = await ledger.record_failure(KEY, owner="A", error="fatal_error", max_attempts=2)
        assert second == (DeliveryStatus.GAVE_UP, 2)
        assert not await ledger.take_over(row.id, owner="A", idle_for=0, status="failed")
    row = (await _rows(db, [KEY]))[KEY]
    assert (row.status, row.attempts, row.last_error) == ("gave_up", 2, "fatal_error")
    assert await _claim(db, "C") is False  # given up stays given up


async def test_renew_restarts_only_our_own_claim(db: Database) -> None:
    await _claim(db, "A", age=60)
    row = (await _rows(db, [KEY]))[KEY]
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.renew(KEY, owner="B") is False
        assert await ledger.renew(KEY, owner="A") is True
        assert await ledger.take_over(row.id, owner="B", idle_for=30) is False  # fresh again


async def test_a_claim_records_the_backup_its_message_is_about(db: Database) -> None:
    alert: LedgerKey = ("T1", "C1", 7001, DeliveryKind.ALERT)
    async with db.session() as session:
        await DeliveryLedger(session).claim_many(
            [alert, KEY], owner="A", subjects={alert: (456, "Nightly CRM")}
        )
    rows = await _rows(db, [alert, KEY])
    assert (rows[alert].backup_id, rows[alert].backup_name) == (456, "Nightly CRM")
    assert (rows[KEY].backup_id, rows[KEY].backup_name) == (None, None)


async def _settle(db: Database, key: LedgerKey, status: str) -> None:
    """Claims `key` for "A" and leaves it `status` (sent, or refused for good)."""
    await _claim(db, "A", key)
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        if status == DeliveryStatus.SENT:
            await ledger.mark_sent_many([SentMark(key, "1.1", NOW)])
        elif status == DeliveryStatus.FAILED:
            await ledger.record_failure(key, owner="A", error="x", max_attempts=5)


async def test_sent_and_owed_keys_tell_apart_kinds_statuses_and_snapshots(db: Database) -> None:
    alert = DeliveryKind.ALERT
    await _settle(db, ("T1", "C1", 1, alert), DeliveryStatus.SENT)
    await _settle(db, ("T1", "C2", 1, alert), DeliveryStatus.CLAIMED)
    await _settle(db, ("T1", "C3", 1, alert), DeliveryStatus.FAILED)  # owed again
    await _settle(db, ("T1", "C1", 1, DeliveryKind.EPISODE_HEADER), DeliveryStatus.SENT)
    await _settle(db, ("T1", "C1", 2, alert), DeliveryStatus.SENT)
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.sent_keys([1], alert) == {("T1", "C1", 1)}
        assert await ledger.owed_keys([1], alert) == {("T1", "C1", 1), ("T1", "C2", 1)}
        assert await ledger.owed_keys([1, 2], alert) == {
            ("T1", "C1", 1),
            ("T1", "C2", 1),
            ("T1", "C1", 2),
        }
        assert await ledger.owed_keys([], alert) == set()


async def test_recent_sent_lists_only_this_teams_sent_alerts_of_these_channels(
    db: Database,
) -> None:
    alert = DeliveryKind.ALERT
    subjects = {
        key: (456, "Nightly CRM")
        for key in [
            ("T1", "C1", 1, alert),
            ("T1", "C1", 2, alert),
            ("T2", "C1", 3, alert),
            ("T1", "C1", 4, DeliveryKind.EPISODE_HEADER),
            ("T1", "C2", 5, alert),
            ("T1", "C1", 6, alert),
        ]
    }
    async with db.session() as session:
        await DeliveryLedger(session).claim_many(list(subjects), owner="A", subjects=subjects)
    async with db.session() as session:
        await DeliveryLedger(session).mark_sent_many(
            [
                SentMark(key, f"1.{key[2]}", NOW + timedelta(seconds=key[2]))
                for key in subjects
                if key[2] != 6  # claimed, never sent
            ]
        )
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        listed = await ledger.recent_sent("T1", ["C1"], alert, limit=10)
        assert [a.snapshot_id for a in listed] == [2, 1]  # newest first
        assert await ledger.recent_sent("T1", [], alert, limit=10) == []
        assert [a.snapshot_id for a in await ledger.recent_sent("T1", ["C1"], alert, limit=1)] == [
            2
        ]


async def test_hand_back_gives_back_only_our_own_unsent_claim(db: Database) -> None:
    original = NOW - timedelta(minutes=5)
    other: LedgerKey = ("T1", "C1", 7002, DeliveryKind.THREAD_REPLY)
    await _claim(db, "A")
    await _settle(db, other, DeliveryStatus.SENT)
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.hand_back(KEY, owner="B", claimed_at=original) is False
        assert await ledger.hand_back(other, owner="A", claimed_at=original) is False
        assert await ledger.hand_back(KEY, owner="A", claimed_at=original) is True
    rows = await _rows(db, [KEY, other])
    assert rows[KEY].claimed_at == original
    assert rows[other].claimed_at != original


async def test_a_refusal_keeps_the_first_64_characters_of_its_error(db: Database) -> None:
    await _claim(db, "A")
    async with db.session() as session:
        await DeliveryLedger(session).record_failure(
            KEY, owner="A", error="e" * 64 + "cut", max_attempts=5
        )
    assert (await _rows(db, [KEY]))[KEY].last_error == "e" * 64
