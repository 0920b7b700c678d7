from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.db import Database
from storage.repositories import AuditRepository, ClickRepository, click_key
from tests.storage.conftest import NOW


async def _record(db: Database, key: str, at=NOW) -> bool:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await ClickRepository(session).record_once(key, "U1", at)


def test_click_keys_are_fixed_length_and_unambiguous() -> None:
    key = click_key("T1", "C1", "1700000000.000100", "run_snapshot", "x" * 3000)

    assert len(key) == 64
    assert key == click_key("T1", "C1", "1700000000.000100", "run_snapshot", "x" * 3000)
    assert click_key("ab", "c") != click_key("a", "bc")


async def test_record_once_is_true_only_the_first_time(db: Database, replica: Database) -> None:
    key = click_key("T1", "C1", "1.1", "run_snapshot", "456")

    assert await _record(db, key) is True
    assert await _record(db, key) is False
    racing = click_key("T1", "C1", "1.1", "run_snapshot", "457")
    results = await asyncio.gather(_record(db, racing), _record(replica, racing))
    assert sorted(results) == [False, True]


async def test_prune_forgets_old_clicks_only(db: Database) -> None:
    await _record(db, "old", at=NOW - timedelta(days=2))
    await _record(db, "new", at=NOW)
    async with db.session() as session:
        assert await ClickRepository(session).prune(NOW - timedelta(days=1)) == 1
    assert await _record(db, "old") is True
    assert await _record(db, "new") is False


async def test_audit_recent_is_newest_first_and_filters_by_channel(db: Database) -> None:
    async with db.session() as session:
        audit = AuditRepository(session)
        for minute, channel, action in (
            (0, "C1", "connect"),
            (1, "C2", "alerts off"),
            (2, "C1", "schedule off"),
        ):
            await audit.add(
                "T1",
                channel,
                "U1",
                action,
                "backup 456",
                "ok",
                at=NOW + timedelta(minutes=minute),
            )
        await audit.add("T2", "C1", "U9", "connect", None, "rejected token", "403")

    async with db.session() as session:
        audit = AuditRepository(session)
        team = [e.action for e in await audit.recent("T1")]
        channel = [e.action for e in await audit.recent("T1", "C1")]
        limited = [e.action for e in await audit.recent("T1", limit=1)]
        other = await audit.recent("T2")

    assert team == ["schedule off", "alerts off", "connect"]
    assert channel == ["schedule off", "connect"] and limited == ["schedule off"]
    assert [(e.user_id, e.result, e.detail) for e in other] == [("U9", "rejected token", "403")]
