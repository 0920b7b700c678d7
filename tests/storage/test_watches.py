from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.models import Watch
from storage.repositories import WatchRepository
from storage.repositories.watches import PollResult
from tests.storage.conftest import NOW

LEASE = 60.0


async def _add(db: Database, snapshot_id: int, *, channel: str = "C1", due_in: float = 0) -> Watch:
    async with db.session() as session:
        return await WatchRepository(session).add(
            team_id="T1",
            channel_id=channel,
            message_ts=f"1700000000.{snapshot_id:06d}",
            workspace_id=7,
            backup_id=456,
            backup_name="Nightly CRM",
            snapshot_id=snapshot_id,
            started_by="U1",
            started_at=NOW,
            next_poll_at=NOW + timedelta(seconds=due_in),
            last_state="Queued",
        )


async def _claim(db: Database, owner: str, *, at=NOW, limit: int = 10) -> list[Watch]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await WatchRepository(session).claim_due(owner, at, limit, LEASE)


async def test_add_is_idempotent_on_team_channel_snapshot(db: Database) -> None:
    first = await _add(db, 7001)
    again = await _add(db, 7001)
    other_channel = await _add(db, 7001, channel="C2")

    assert again.id == first.id and other_channel.id != first.id
    assert first.message_ts == "1700000000.007001" and first.poll_errors == 0


async def test_pending_lists_and_stop_for_channel(db: Database) -> None:
    await _add(db, 1)
    await _add(db, 2)
    await _add(db, 3, channel="C2")
    async with db.session() as session:
        repo = WatchRepository(session)
        assert [w.snapshot_id for w in await repo.pending_for_channel("T1", "C1")] == [1, 2]
        assert len(await repo.pending_for_team("T1")) == 3
        assert await repo.stop_for_channel("T1", "C1", now=NOW) == 2
        assert await repo.stop_for_channel("T1", "C1", now=NOW) == 0

    async with db.session() as session:
        repo = WatchRepository(session)
        stopped = await repo.get_for_snapshot("T1", "C1", 1)
        assert [w.snapshot_id for w in await repo.pending_for_team("T1")] == [3]
        assert await repo.count_pending() == 1
    assert stopped is not None and stopped.outcome == "stopped" and stopped.finished_at == NOW


async def test_claim_due_takes_only_due_unleased_pending_watches_earliest_first(
    db: Database,
) -> None:
    late = await _add(db, 1, due_in=-10)
    early = await _add(db, 2, due_in=-20)
    await _add(db, 3, due_in=+30)  # not due yet
    finished = await _add(db, 4, due_in=-30)
    async with db.session() as session:
        await WatchRepository(session).stop_for_channel("T1", "C2", now=NOW)  # other channel
        claimed_for_finish = await WatchRepository(session).claim_due("w0", NOW, 10, LEASE)
        assert [w.id for w in claimed_for_finish] == [finished.id, early.id, late.id]
        assert await WatchRepository(session).finish(
            finished.id, "w0", outcome="Succeeded", now=NOW
        )
        for watch in (early, late):
            assert await WatchRepository(session).release(watch.id, "w0")

    claimed = await _claim(db, "w1", limit=1)
    rest = await _claim(db, "w2")

    assert [w.id for w in claimed] == [early.id]
    assert [w.id for w in rest] == [late.id]
    assert claimed[0].lease_owner == "w1" and claimed[0].lease_until is not None
    lease_left = claimed[0].lease_until - datetime.now(UTC)  # the database's clock: real time
    assert timedelta(seconds=LEASE - 10) < lease_left <= timedelta(seconds=LEASE + 10)
    assert await _claim(db, "w3") == []


async def test_two_owners_claiming_at_once_never_share_a_watch(
    db: Database, replica: Database
) -> None:
    ids = {(await _add(db, n, due_in=-n)).id for n in range(1, 21)}

    rounds = await asyncio.gather(
        *(_claim(database, f"w{i}", limit=4) for i, database in enumerate([db, replica] * 3))
    )

    claimed = [watch.id for batch in rounds for watch in batch]
    assert len(claimed) == len(set(claimed)) == 20  # 6 claimers x 4 > 20: all taken, none twice
    assert set(claimed) == ids


async def test_a_claimer_whose_clock_runs_ahead_does_not_see_a_live_lease_as_expired(
    db: Database, replica: Database
) -> None:
    await _add(db, 1)
    [mine] = await _claim(db, "A", at=datetime.now(UTC))
    ahead = datetime.now(UTC) + timedelta(seconds=LEASE + 9)  # another replica's clock

    assert await _claim(replica, "B", at=ahead) == []
    assert mine.lease_owner == "A"


async def test_claims_skip_rows_locked_by_an_open_claim(db: Database, replica: Database) -> None:
    for n in range(1, 6):
        await _add(db, n, due_in=-n)

    async with db.session() as first:
        mine = await WatchRepository(first).claim_due("A", NOW, 3, LEASE)
        # PostgreSQL: the second claimer skips the locked rows instead of waiting for them.
        # SQLite: it waits for the write lock, which this transaction releases when it ends.
        other = asyncio.create_task(_claim(replica, "B"))
        await asyncio.sleep(0.05)  # let it start; correctness does not depend on this
        if db.is_postgresql:
            theirs = await asyncio.wait_for(other, timeout=30)
    if not db.is_postgresql:
        theirs = await asyncio.wait_for(other, timeout=30)

    assert len(mine) == 3 and len(theirs) == 2
    assert not {w.id for w in mine} & {w.id for w in theirs}


async def test_an_expired_lease_is_reclaimable_and_fences_the_old_owner(db: Database) -> None:
    watch = await _add(db, 1)
    async with db.session() as session:
        [claimed] = await WatchRepository(session).claim_due("A", NOW, 10, lease_seconds=0.5)

    assert await _claim(db, "B") == []
    await asyncio.sleep(0.6)  # lease ends by the database's clock, whatever the callers' say
    [retaken] = await _claim(db, "B")

    async with db.session() as session:
        repo = WatchRepository(session)
        # The old owner's writes are fenced off: its lease was lost.
        late = PollResult(watch.id, NOW + timedelta(hours=1), last_state="Failed")
        await repo.reschedule_many("A", [late])
        assert await repo.finish(watch.id, "A", outcome="Failed", now=NOW) is False
    async with db.session() as session:
        fenced = await WatchRepository(session).get(watch.id)
    assert fenced is not None and (fenced.last_state, fenced.lease_owner) == ("Queued", "B")
    async with db.session() as session:
        result = PollResult(
            watch.id,
            NOW + timedelta(seconds=90),
            last_state="Running",
            poll_errors=2,
            last_note_at=NOW,
        )
        await WatchRepository(session).reschedule_many("B", [result])
    async with db.session() as session:
        after = await WatchRepository(session).get(watch.id)

    assert claimed.id == retaken.id == watch.id
    assert after is not None and after.lease_owner is None and after.lease_until is None
    assert (after.last_state, after.poll_errors, after.last_note_at) == ("Running", 2, NOW)
    assert after.next_poll_at == NOW + timedelta(seconds=90) and after.finished_at is None


async def test_finish_and_stop_end_the_watch_for_its_owner(db: Database) -> None:
    watch = await _add(db, 1)
    [claimed] = await _claim(db, "A")
    async with db.session() as session:
        assert await WatchRepository(session).stop_for_channel("T1", "C1", now=NOW) == 1
        # The owner finds the watch stopped under it and must not resurrect it.
        assert (
            await WatchRepository(session).finish(claimed.id, "A", outcome="Succeeded", now=NOW)
            is False
        )

    other = await _add(db, 2)
    await _claim(db, "A")
    async with db.session() as session:
        done = await WatchRepository(session).finish(
            other.id, "A", outcome="Succeeded", now=NOW, last_state="Succeeded"
        )
    async with db.session() as session:
        final = await WatchRepository(session).get(other.id)
        first = await WatchRepository(session).get(watch.id)

    assert done and final is not None and final.outcome == "Succeeded" and not final.is_pending
    assert first is not None and first.outcome == "stopped"
    assert await _claim(db, "A", at=NOW + timedelta(days=1)) == []
