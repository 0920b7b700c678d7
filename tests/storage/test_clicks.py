"""The windowed click claim: one action per double click, on one database or across replicas."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from storage.db import Database
from storage.repositories import ClickRepository, click_key
from tests.storage.conftest import NOW

WINDOW = timedelta(seconds=30)
KEY = click_key("T1", "C1", "1700000000.000100", "run_snapshot", '{"backup_id":456}')


async def _claim(db: Database, at: datetime = NOW, user: str = "U1", key: str = KEY) -> bool:
    async with db.session() as session:
        return await ClickRepository(session).claim(key, user, at, WINDOW)


async def test_a_repeat_inside_the_window_is_refused(db: Database) -> None:
    assert await _claim(db) is True
    assert await _claim(db, NOW + timedelta(seconds=2), user="U2") is False
    assert await _claim(db, NOW + WINDOW - timedelta(milliseconds=1)) is False


async def test_the_same_button_works_again_after_the_window(db: Database) -> None:
    assert await _claim(db) is True
    assert await _claim(db, NOW + WINDOW) is True
    # The window restarts at the accepted click, not at the first one.
    assert await _claim(db, NOW + WINDOW + timedelta(seconds=5)) is False
    assert await _claim(db, NOW + timedelta(hours=1)) is True


async def test_other_keys_are_independent(db: Database) -> None:
    assert await _claim(db) is True
    other = click_key("T1", "C1", "1700000000.000100", "run_snapshot", '{"backup_id":457}')
    assert await _claim(db, key=other) is True


async def test_two_replicas_racing_get_exactly_one_claim(db: Database, replica: Database) -> None:
    for attempt in range(5):
        key = click_key("race", str(attempt))
        results = await asyncio.gather(
            _claim(db, key=key), _claim(replica, key=key), _claim(db, key=key)
        )
        assert sorted(results) == [False, False, True]


async def test_release_forgets_only_its_own_claim(db: Database) -> None:
    assert await _claim(db) is True
    async with db.session() as session:
        # A claim made at another time is not ours to release.
        assert await ClickRepository(session).release(KEY, NOW + timedelta(seconds=1)) is False
    assert await _claim(db, NOW + timedelta(seconds=2)) is False
    async with db.session() as session:
        assert await ClickRepository(session).release(KEY, NOW) is True
    assert await _claim(db, NOW + timedelta(seconds=3)) is True


async def test_record_once_still_refuses_every_repeat(db: Database) -> None:
    async with db.session() as session:
        assert await ClickRepository(session).record_once("k", "U1", NOW) is True
    async with db.session() as session:
        assert (
            await ClickRepository(session).record_once("k", "U1", NOW + timedelta(days=1)) is False
        )
