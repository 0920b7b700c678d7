"""Pruning queries: each deletes rows strictly older than its cutoff, a bounded batch at a time,
and the ledger never forgets a key that can still be claimed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.db import Database
from storage.repositories import (
    AuditRepository,
    ClickRepository,
    DeliveryLedger,
    EpisodeRepository,
    WatchRepository,
    WorkerLeaseRepository,
)
from tests.storage import retention_rows as rows
from tests.storage.conftest import NOW

SECOND = timedelta(seconds=1)
CUTOFF = NOW - timedelta(days=1)


async def test_clicks_older_than_the_cutoff_go_and_those_at_it_stay(db: Database) -> None:
    await rows.click(db, "older", CUTOFF - SECOND)
    await rows.click(db, "at", CUTOFF)
    await rows.click(db, "newer", CUTOFF + SECOND)

    async with db.session() as session:
        assert await ClickRepository(session).prune(CUTOFF, limit=10) == 1

    assert await rows.click_keys(db) == {"at", "newer"}


async def test_audit_entries_older_than_the_cutoff_go(db: Database) -> None:
    await rows.audit(db, "older", CUTOFF - SECOND)
    await rows.audit(db, "at", CUTOFF)

    async with db.session() as session:
        assert await AuditRepository(session).prune(CUTOFF, limit=10) == 1

    assert await rows.audit_targets(db) == {"at"}


async def test_only_watches_finished_before_the_cutoff_go(db: Database) -> None:
    long_ago = CUTOFF - timedelta(days=30)
    await rows.watch(db, "C-older", 1, long_ago, CUTOFF - SECOND)
    await rows.watch(db, "C-at", 2, long_ago, CUTOFF)
    await rows.watch(db, "C-pending", 3, long_ago, None)

    async with db.session() as session:
        assert await WatchRepository(session).prune_finished(CUTOFF, limit=10) == 1

    assert await rows.watch_channels(db) == {"C-at", "C-pending"}


async def test_a_batch_deletes_at_most_its_limit(db: Database) -> None:
    for number in range(5):
        await rows.click(db, f"old-{number}", CUTOFF - timedelta(hours=number + 1))

    async with db.session() as session:
        assert await ClickRepository(session).prune(CUTOFF, limit=2) == 2
    async with db.session() as session:
        assert await ClickRepository(session).prune(CUTOFF, limit=2) == 2
    async with db.session() as session:
        assert await ClickRepository(session).prune(CUTOFF, limit=2) == 1
    assert await rows.click_keys(db) == set()


async def test_ledger_rows_go_by_age_but_never_a_pending_watchs(db: Database) -> None:
    old = CUTOFF - SECOND
    await rows.delivery(db, "C1", 1, rows.REPLY, old)
    await rows.delivery(db, "C1", 2, rows.REPLY, CUTOFF)
    await rows.delivery(db, "C1", 3, rows.REPLY, old, sent=False)  # a claim never marked sent
    await rows.watch(db, "C2", 4, old - timedelta(days=5), None)  # still pending, retrying
    await rows.delivery(db, "C2", 4, rows.REPLY, old)
    await rows.delivery(db, "C2", 4, "note:30", old)
    await rows.watch(db, "C3", 5, old - timedelta(days=5), old)  # finished
    await rows.delivery(db, "C3", 5, rows.REPLY, old)
    await rows.delivery(db, "C9", 4, rows.ALERT, old)  # same snapshot, another channel

    async with db.session() as session:
        deleted = await DeliveryLedger(session).prune(
            CUTOFF, alerts_claimed_before=CUTOFF, limit=100
        )

    assert deleted == 4
    assert await rows.delivery_keys(db) == {
        ("C1", 2, rows.REPLY),
        ("C2", 4, rows.REPLY),
        ("C2", 4, "note:30"),
    }


async def test_alert_rows_go_only_before_their_own_bound(db: Database) -> None:
    alerts_bound = CUTOFF - timedelta(days=3)
    await rows.delivery(db, "C1", 1, rows.ALERT, alerts_bound - SECOND)
    await rows.delivery(db, "C1", 2, rows.ALERT, alerts_bound)
    await rows.delivery(db, "C1", 3, rows.REPLY, alerts_bound)

    async with db.session() as session:
        deleted = await DeliveryLedger(session).prune(
            CUTOFF, alerts_claimed_before=alerts_bound, limit=100
        )

    assert deleted == 2
    assert await rows.delivery_keys(db) == {("C1", 2, rows.ALERT)}


async def test_a_job_has_one_turn_at_a_time_and_waits_for_its_next_run(
    db: Database, replica: Database
) -> None:
    async def take(database: Database, owner: str, at=NOW, lease: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
        async with database.session() as session:
            return await WorkerLeaseRepository(session).take_turn("job", owner, at, lease)

    assert await take(db, "a") is True
    assert await take(replica, "b") is False  # held
    async with db.session() as session:
        leases = WorkerLeaseRepository(session)
        assert await leases.extend("job", "b", 60.0) is False  # not b's to extend
        assert await leases.end_turn("job", "a", NOW + timedelta(hours=1)) is True
    assert await take(replica, "b", NOW + timedelta(minutes=59)) is False  # not due
    assert await take(replica, "b", NOW + timedelta(hours=1), lease=0.5) is True
    # b crashes holding the turn: once its lease runs out (by the database's clock), another
    # replica takes over, whatever the callers' clocks say.
    assert await take(db, "a", NOW + timedelta(hours=2)) is False
    await asyncio.sleep(0.6)
    assert await take(db, "a", NOW + timedelta(hours=1)) is True
    async with db.session() as session:
        assert await WorkerLeaseRepository(session).end_turn("job", "b", NOW) is False


async def test_the_first_alert_of_an_open_episode_stays_only_in_its_own_channel(
    db: Database,
) -> None:
    """Its `ts` is the thread the episode's later failures and recovery go in; the same
    snapshot's alert in another bound channel (whose episode is over) and the episode's
    later alerts go by age as any other."""
    old = CUTOFF - timedelta(days=30)
    async with db.session() as session:
        bound = [await rows.bind(session, channel, old) for channel in ("C1", "C2")]
        ops, other = bound
        episodes = EpisodeRepository(session)
        await episodes.record_failure([ops.id, other.id], 456, 1, old)
        await episodes.close(other.id, 456, old)
    for channel, snapshot in (("C1", 1), ("C2", 1), ("C1", 2)):
        await rows.delivery(db, channel, snapshot, rows.ALERT, old)

    async with db.session() as session:
        await DeliveryLedger(session).prune(CUTOFF, alerts_claimed_before=CUTOFF, limit=100)

    assert await rows.delivery_keys(db) == {("C1", 1, rows.ALERT)}
