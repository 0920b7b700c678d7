from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from storage.db import Database, normalize_url
from storage.models import AuditEntry
from storage.repositories import AuditRepository


async def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    async with db.session() as session:
        await AuditRepository(session).add("T1", "C1", "U1", "kept", None, "ok")
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await AuditRepository(session).add("T1", "C1", "U1", "lost", None, "ok")
            raise RuntimeError("boom")

    async with db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions == ["kept"]


async def test_ping_and_dialect(db: Database, database_url: str) -> None:
    assert await db.ping() is True
    assert db.is_postgresql == database_url.startswith("postgresql")
    assert db.dialect in {"sqlite", "postgresql"}
    assert "password" not in repr(db)


async def test_ping_is_false_when_the_database_cannot_be_reached() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    unreachable = Database.connect("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        assert await unreachable.ping() is False
    finally:
        await unreachable.dispose()


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with db.engine.connect() as connection:
        journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
        foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
        busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
    assert (journal, foreign_keys) == ("wal", 1)
    assert busy is not None and busy >= 1000


def test_plain_urls_get_the_async_driver() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalize_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+aiosqlite"


async def test_a_read_neither_waits_for_a_writer_nor_holds_one_back(db: Database) -> None:
    """`reading` sees the committed state while a write transaction is open, and a write
    commits while a read is open: on SQLite a plain session would wait for the write lock
    (the timeouts fail the test instead of the busy timeout's 30 s)."""
    async with db.session() as session:
        await AuditRepository(session).add("T1", "C1", "U1", "before", None, "ok")
    async with db.session() as writer:
        await AuditRepository(writer).add("T1", "C1", "U1", "uncommitted", None, "ok")
        async with asyncio.timeout(2), db.reading() as reader:
            seen = (await reader.scalars(select(AuditEntry.action))).all()
    assert seen == ["before"]
    async with db.reading() as reader:
        assert len((await reader.scalars(select(AuditEntry.action))).all()) == 2
        async with asyncio.timeout(2), db.session() as writer:
            await AuditRepository(writer).add("T1", "C1", "U1", "while reading", None, "ok")
    async with db.reading() as reader:
        assert len((await reader.scalars(select(AuditEntry.action))).all()) == 3


async def test_writers_of_one_process_take_turns_instead_of_starving(
    migrated_database_url: str,
) -> None:
    """A busy writer committing back to back (the write batcher under an alert wave) must not
    starve another: SQLite's busy handler polls with sleeps and lost the race to the next
    BEGIN every time, so a timer or watcher tick failed with "database is locked" after the
    busy timeout (the episodes benchmark: a handful of failed ticks per run)."""
    db = Database.connect(migrated_database_url, statement_timeout=1.0)
    if db.is_postgresql:
        await db.dispose()
        pytest.skip("PostgreSQL has row locks, not one write lock")
    stop = asyncio.Event()

    async def busy() -> int:
        turns = 0
        while not stop.is_set():
            async with db.session() as session:
                await AuditRepository(session).add("T1", "C1", "U1", "busy", None, "ok")
                await asyncio.sleep(0.05)  # holds the write lock, as a batch's flush does
            turns += 1
        return turns

    hog = asyncio.create_task(busy())
    try:
        await asyncio.sleep(0.1)
        for _ in range(5):
            async with asyncio.timeout(5), db.session() as session:
                await AuditRepository(session).add("T1", "C1", "U1", "tick", None, "ok")
    finally:
        stop.set()
        turns = await hog
        await db.dispose()
    assert turns > 5
