"""Timers: one pending per kind and channel backup, claimed under a lease, finished once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.db import Database
from storage.models import Timer, TimerKind
from storage.repositories import TimerRepository
from tests.storage.conftest import NOW

LEASE = 60.0


async def _set(db: Database, backup_id: int, *, due_in: float = 0, channel: str = "C1") -> Timer:
    async with db.session() as session:
        return await TimerRepository(session).set(
            kind=TimerKind.MUTE_END,
            team_id="T1",
            channel_id=channel,
            backup_id=backup_id,
            due_at=NOW + timedelta(seconds=due_in),
            payload='{"by": "U1"}',
        )


async def _claim(db: Database, owner: str, *, at=NOW, limit: int = 10) -> list[Timer]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await TimerRepository(session).claim_due(owner, at, limit, LEASE)


async def test_set_replaces_the_pending_timer_with_a_new_one(db: Database) -> None:
    first = await _set(db, 456, due_in=60)
    second = await _set(db, 456, due_in=120)
    other = await _set(db, 456, due_in=30, channel="C2")
    assert first.due_at != second.due_at
    async with db.session() as session:
        pending = await TimerRepository(session).pending_in("T1", "C1")
    assert [(t.id, t.due_at) for t in pending] == [(second.id, NOW + timedelta(seconds=120))]
    assert other.id not in {t.id for t in pending}


async def test_only_due_timers_are_claimed_once_and_finished_by_their_owner(db: Database) -> None:
    due = await _set(db, 1)
    await _set(db, 2, due_in=60)
    assert [t.id for t in await _claim(db, "a")] == [due.id]
    assert await _claim(db, "b") == []  # leased
    async with db.session() as session:
        assert not await TimerRepository(session).finish(due.id, "b")
        assert await TimerRepository(session).finish(due.id, "a")
    assert await _claim(db, "b", at=NOW + timedelta(seconds=LEASE + 1)) != []  # only timer 2
    async with db.session() as session:
        assert [t.backup_id for t in await TimerRepository(session).pending_in("T1", "C1")] == [2]


async def test_an_expired_lease_is_reclaimed_and_fences_the_old_owner(db: Database) -> None:
    timer = await _set(db, 1)
    async with db.session() as session:
        assert await TimerRepository(session).claim_due("a", NOW, 10, lease_seconds=0.5)
    assert await _claim(db, "b") == []
    await asyncio.sleep(0.6)  # the lease ends by the database's clock, whatever the callers' say
    assert [t.id for t in await _claim(db, "b")] == [timer.id]
    async with db.session() as session:
        assert not await TimerRepository(session).finish(timer.id, "a")
        assert await TimerRepository(session).finish(timer.id, "b")


async def test_a_claimer_whose_clock_runs_ahead_does_not_see_a_live_lease_as_expired(
    db: Database, replica: Database
) -> None:
    await _set(db, 1)
    assert await _claim(db, "a")
    ahead = NOW + timedelta(seconds=LEASE + 9)  # another replica's clock
    assert await _claim(replica, "b", at=ahead) == []


async def test_release_makes_it_due_again_and_cancel_drops_it(db: Database) -> None:
    timer = await _set(db, 1)
    await _claim(db, "a")
    async with db.session() as session:
        repo = TimerRepository(session)
        assert await repo.release(timer.id, "a", NOW + timedelta(seconds=5))
    assert await _claim(db, "b") == []
    assert [t.id for t in await _claim(db, "b", at=NOW + timedelta(seconds=5))] == [timer.id]
    async with db.session() as session:
        key = {"kind": TimerKind.MUTE_END, "team_id": "T1", "channel_id": "C1", "backup_id": 1}
        assert await TimerRepository(session).cancel(**key)
        assert not await TimerRepository(session).cancel(**key)
        assert await TimerRepository(session).get(**key) is None


async def test_two_replicas_claiming_at_once_never_share_a_timer(
    db: Database, replica: Database
) -> None:
    for backup_id in range(1, 21):
        await _set(db, backup_id)
    first, second = await asyncio.gather(_claim(db, "a", limit=15), _claim(replica, "b", limit=15))
    ids_a, ids_b = {t.id for t in first}, {t.id for t in second}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 20
