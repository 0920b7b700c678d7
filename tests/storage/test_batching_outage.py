"""The write batcher when the database is unreachable: one failure per batch, not per write.

A batch that fails because of one bad write is re-run write by write, so the others still
commit. A batch that fails because the database is down would only fail again the same way,
each re-run waiting out the connect timeout, N writes making it N times as long; so the whole
batch fails at once and the callers retry on their next tick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.batching import BulkWrite, WriteBatcher
from storage.db import Database, is_unavailable

WRITES = 8


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts TCP connections and never answers (a hung database server)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def _write(session: AsyncSession) -> str:
    await session.execute(text("SELECT 1"))
    return "written"


async def _double(session: AsyncSession, items: Sequence[int]) -> list[int]:
    await session.execute(text("SELECT 1"))
    return [2 * item for item in items]


async def _run_writes(db: Database) -> tuple[list[object], WriteBatcher]:
    batcher = WriteBatcher(db)
    bulk = BulkWrite[int, int]("doubles", _double)
    try:
        results = await asyncio.gather(
            *(batcher.run(_write) for _ in range(WRITES // 2)),
            *(batcher.run_bulk(bulk, item) for item in range(WRITES // 2)),
            return_exceptions=True,
        )
    finally:
        await batcher.close()
    return results, batcher


async def test_a_refused_connection_fails_the_whole_batch_once() -> None:
    db = Database.connect("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        results, batcher = await _run_writes(db)
    finally:
        await db.dispose()
    assert all(isinstance(r, Exception) and is_unavailable(r) for r in results), results
    assert batcher.flushes == 1  # not 1 + one re-run per write


async def test_a_hung_database_costs_one_connect_timeout_per_batch(silent_port: int) -> None:
    db = Database.connect(
        f"postgresql+asyncpg://postgres@127.0.0.1:{silent_port}/none", connect_timeout=0.5
    )
    started = time.monotonic()
    try:
        results, batcher = await _run_writes(db)
    finally:
        await db.dispose()
    elapsed = time.monotonic() - started
    assert all(isinstance(r, Exception) for r in results)
    assert batcher.flushes == 1
    assert elapsed < 2.5, f"{WRITES} writes took {elapsed:.1f}s: the wait was multiplied"


async def test_when_the_database_goes_away_during_the_one_by_one_rerun_the_rest_fail_fast(
    db: Database,
) -> None:
    """A data error starts the one-by-one re-run; an outage during it ends the re-run."""
    ran: list[int] = []

    def op(number: int) -> object:
        async def run(session: AsyncSession) -> int:
            ran.append(number)
            if number == 0:
                raise ValueError("a bad write")
            if number == 1:
                raise ConnectionResetError("the database went away")
            return number

        return run

    batcher = WriteBatcher(db)
    try:
        results = await asyncio.gather(
            *(batcher.run(op(n)) for n in range(5)),  # type: ignore[arg-type]
            return_exceptions=True,
        )
    finally:
        await batcher.close()
    assert isinstance(results[0], ValueError)
    assert all(isinstance(r, ConnectionResetError) for r in results[1:]), results
    # The batch ran up to the first error; the re-run ran 0, then 1, which ended it.
    assert ran == [0, 0, 1]


async def test_a_bad_write_still_lets_the_others_commit(db: Database) -> None:
    async def bad(session: AsyncSession) -> None:
        raise ValueError("a bad write")

    batcher = WriteBatcher(db)
    try:
        results = await asyncio.gather(
            batcher.run(_write), batcher.run(bad), batcher.run(_write), return_exceptions=True
        )
    finally:
        await batcher.close()
    assert results[0] == results[2] == "written"
    assert isinstance(results[1], ValueError)
    assert batcher.flushes == 4  # the batch, then each write alone
