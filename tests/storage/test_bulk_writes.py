"""The many-row writes of the workers' coalesced flushes: same rules as the one-row methods."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.db import Database
from storage.models import DeliveryStatus, Watch
from storage.repositories import DeliveryLedger, WatchRepository
from storage.repositories._sql import db_now
from storage.repositories.deliveries import SentMark
from storage.repositories.watches import FinishedWatch, PollResult
from tests.storage.conftest import NOW

LEASE = 60.0


async def _watches(db: Database, count: int) -> list[Watch]:
    async with db.session() as session:
        repo = WatchRepository(session)
        for snapshot_id in range(1, count + 1):
            await repo.add(
                team_id="T1",
                channel_id="C1",
                message_ts=f"1700000000.{snapshot_id:06d}",
                workspace_id=7,
                backup_id=456,
                backup_name=None,
                snapshot_id=snapshot_id,
                started_by="U1",
                started_at=NOW,
                next_poll_at=NOW,
                last_state="Queued",
            )
    async with db.session() as session:
        return await WatchRepository(session).claim_due("me", NOW, count, LEASE)


async def _get(db: Database, watch_id: int) -> Watch:
    async with db.session() as session:
        watch = await WatchRepository(session).get(watch_id)
    assert watch is not None
    return watch


async def test_reschedule_many_writes_each_result_and_keeps_what_is_none(db: Database) -> None:
    a, b = await _watches(db, 2)
    later = NOW + timedelta(seconds=5)
    async with db.session() as session:
        await WatchRepository(session).reschedule_many(
            "me",
            [
                PollResult(a.id, later, last_state="Running", poll_errors=0),
                PollResult(b.id, later + timedelta(seconds=1), last_note_at=NOW, poll_errors=2),
            ],
        )
    first, second = await _get(db, a.id), await _get(db, b.id)
    assert (first.next_poll_at, first.last_state, first.poll_errors) == (later, "Running", 0)
    assert first.last_note_at is None and first.lease_owner is None
    assert second.last_state == "Queued"  # None kept the stored value
    assert (second.last_note_at, second.poll_errors) == (NOW, 2)
    assert second.next_poll_at == later + timedelta(seconds=1) and second.lease_until is None


async def test_bulk_watch_writes_are_fenced_by_the_lease(db: Database) -> None:
    a, b = await _watches(db, 2)
    async with db.session() as session:
        repo = WatchRepository(session)
        await repo.reschedule_many("someone-else", [PollResult(a.id, NOW, last_state="Running")])
        await repo.finish_many("someone-else", [FinishedWatch(b.id, "Succeeded", NOW)])
    first, second = await _get(db, a.id), await _get(db, b.id)
    assert first.lease_owner == "me" and first.last_state == "Queued"
    assert second.finished_at is None and second.lease_owner == "me"


async def test_finish_many_finishes_and_a_finished_watch_is_not_rescheduled(db: Database) -> None:
    a, b = await _watches(db, 2)
    async with db.session() as session:
        repo = WatchRepository(session)
        await repo.finish_many(
            "me",
            [
                FinishedWatch(a.id, "Succeeded", NOW, last_state="Succeeded"),
                FinishedWatch(b.id, "gave_up", NOW),
            ],
        )
        await repo.reschedule_many("me", [PollResult(a.id, NOW, last_state="Running")])
    first, second = await _get(db, a.id), await _get(db, b.id)
    assert (first.outcome, first.last_state, first.finished_at) == ("Succeeded", "Succeeded", NOW)
    assert (second.outcome, second.last_state) == ("gave_up", "Queued")
    async with db.session() as session:
        assert await WatchRepository(session).count_pending() == 0


async def test_claim_many_claims_each_new_key_once(db: Database) -> None:
    sent = ("T1", "C1", 1, "alert")
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.claim_many([sent], owner="other") == {sent}
        keys = [("T1", f"C{i}", 2, "alert") for i in range(3)]
        before = await session.scalar(select(db_now(session)))
        claimed = await ledger.claim_many([sent, *keys, keys[0]], owner="me")
        again = await ledger.claim_many([keys[1]], owner="third")
        rows = await ledger.get_many([sent, *keys, ("T9", "C9", 9, "alert")])
    assert claimed == set(keys) and again == set()
    assert set(rows) == {sent, *keys}
    assert rows[sent].claimed_by == "other" and rows[keys[2]].claimed_by == "me"
    assert before is not None
    assert all(rows[k].status == DeliveryStatus.CLAIMED for k in keys)
    assert all(abs((rows[k].claimed_at - before).total_seconds()) < 5 for k in keys)


async def test_claim_many_beyond_one_statement(db: Database) -> None:
    keys = [("T1", "C1", snapshot, "alert") for snapshot in range(1, 1202)]
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        claimed = await ledger.claim_many(keys, owner="me")
        assert await ledger.claim_many(keys[-3:], owner="me") == set()
        assert len(await ledger.get_many(keys)) == len(keys)
    assert claimed == set(keys)


async def test_mark_sent_many_records_each_ts(db: Database) -> None:
    keys = [("T1", "C1", snapshot, "thread_reply") for snapshot in (1, 2)]
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        await ledger.claim_many(keys, owner="me")
        await ledger.mark_sent_many(
            [SentMark(keys[0], "1.000001", NOW), SentMark(keys[1], "1.000002", NOW)]
        )
        rows = await ledger.get_many(keys)
        assert await ledger.sent_keys([1, 2], "thread_reply") == {k[:3] for k in keys}
    assert [rows[k].message_ts for k in keys] == ["1.000001", "1.000002"]
    assert all(rows[k].status == DeliveryStatus.SENT and rows[k].sent_at == NOW for k in keys)
