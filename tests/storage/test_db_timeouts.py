"""The database fails fast when it is down or hangs, instead of waiting on driver defaults.

asyncpg waits 60 s for a connection and forever for a statement unless told otherwise; a
database that stops answering would hold every worker tick that long. `Database.connect` sets
a connect timeout, a statement timeout (on the server, with a client-side backstop), a pool
checkout timeout and SQLite's busy timeout, and `is_unavailable` tells such failures apart
from errors in the data, which is what the write batcher needs to know.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, exc, text

from storage.db import CONNECT_TIMEOUT, STATEMENT_TIMEOUT, Database, is_unavailable


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never answers: a hung database server."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def _connect_params(db: Database) -> dict[str, Any]:
    """The keyword arguments the engine hands the driver for a new connection (none is made)."""
    seen: dict[str, Any] = {}

    @event.listens_for(db.engine.sync_engine, "do_connect")
    def _record(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        seen.update(params)
        raise ConnectionRefusedError("recorded, not connected")

    return seen


async def test_postgresql_connections_get_connect_and_statement_timeouts() -> None:
    db = Database.connect("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    params = _connect_params(db)
    try:
        with pytest.raises(ConnectionRefusedError):
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert params["timeout"] == CONNECT_TIMEOUT
    assert params["server_settings"]["statement_timeout"] == str(int(STATEMENT_TIMEOUT * 1000))
    # The client-side limit is a backstop for a server that does not answer at all; it leaves
    # the server's own cancel (a clean error, the connection kept) to come first.
    assert params["command_timeout"] > STATEMENT_TIMEOUT
    assert db.engine.pool.timeout() <= 2 * CONNECT_TIMEOUT  # type: ignore[attr-defined]
    assert CONNECT_TIMEOUT <= 10 and STATEMENT_TIMEOUT <= 30


async def test_the_timeouts_can_be_chosen_and_the_statement_limit_left_off() -> None:
    db = Database.connect(
        "postgresql+asyncpg://postgres@127.0.0.1:1/none", connect_timeout=2, statement_timeout=None
    )
    params = _connect_params(db)
    try:
        with pytest.raises(ConnectionRefusedError):
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert params["timeout"] == 2
    assert "command_timeout" not in params and "server_settings" not in params


async def test_a_hung_server_fails_a_connection_within_the_connect_timeout(
    silent_server: int,
) -> None:
    db = Database.connect(
        f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server}/none", connect_timeout=0.5
    )
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as caught:
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert time.monotonic() - started < 3
    assert is_unavailable(caught.value)


async def test_sqlite_waits_for_a_lock_no_longer_than_the_statement_timeout(
    db: Database, migrated_database_url: str
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's busy timeout")
    other = Database.connect(migrated_database_url, statement_timeout=0.3)
    try:
        async with db.session() as session:  # holds the write lock (BEGIN IMMEDIATE)
            await session.execute(text("SELECT 1"))
            started = time.monotonic()
            with pytest.raises(exc.OperationalError) as caught:
                async with other.session() as blocked:
                    await blocked.execute(text("SELECT 1"))
            waited = time.monotonic() - started
    finally:
        await other.dispose()
    assert 0.2 < waited < 3
    assert is_unavailable(caught.value)


async def test_a_statement_over_the_limit_is_cancelled_by_postgresql(
    db: Database, migrated_database_url: str
) -> None:
    if not db.is_postgresql:
        pytest.skip("PostgreSQL's statement_timeout")
    limited = Database.connect(migrated_database_url, statement_timeout=0.2)
    started = time.monotonic()
    try:
        with pytest.raises(exc.DBAPIError) as caught:
            async with limited.session() as session:
                await session.execute(text("SELECT pg_sleep(2)"))
    finally:
        await limited.dispose()
    assert time.monotonic() - started < 1.5
    assert is_unavailable(caught.value)


async def test_ping_answers_in_time_even_when_the_probe_is_slow_to_clean_up(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a hung server even closing the probe's connection waits; readiness must not."""
    monkeypatch.setattr("storage.db.PING_TIMEOUT", 0.2)
    cleaned_up = asyncio.Event()

    async def hung_probe() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(1.0)  # the clean-up of a connection to a hung server
            cleaned_up.set()

    monkeypatch.setattr(db, "_select_one", hung_probe)
    started = time.monotonic()
    assert await db.ping() is False
    assert time.monotonic() - started < 0.8
    await asyncio.wait_for(cleaned_up.wait(), timeout=3)  # the probe still finished its work


class _PgError(Exception):
    """What the asyncpg dialect wraps: a driver error carrying a SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(orig: Exception, *, invalidated: bool = False) -> exc.DBAPIError:
    return exc.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        exc.TimeoutError("QueuePool limit reached"),
        _wrapped(RuntimeError("connection was closed"), invalidated=True),
        _wrapped(_PgError("08006")),  # connection failure
        _wrapped(_PgError("57P01")),  # terminating connection due to administrator command
        _wrapped(_PgError("57014")),  # canceling statement due to statement timeout
        _wrapped(_PgError("53300")),  # too many connections
        exc.OperationalError("BEGIN", None, sqlite3.OperationalError("database is locked")),
    ],
    ids=repr,
)
def test_outages_count_as_unavailable(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug in one op"),
        ValueError("bad value"),
        exc.IntegrityError("INSERT", None, sqlite3.IntegrityError("UNIQUE constraint failed")),
        _wrapped(_PgError("23505")),  # unique violation
        _wrapped(_PgError("40P01")),  # deadlock: re-running each write alone is the cure
        _wrapped(_PgError("40001")),  # serialization failure
    ],
    ids=repr,
)
def test_errors_in_the_data_do_not_count_as_unavailable(error: BaseException) -> None:
    assert not is_unavailable(error)
