"""The write batcher: ops of one flush share a transaction; bulk writes one call per flush."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from storage.batching import BulkWrite, WriteBatcher
from storage.db import Database
from storage.repositories import AlertCursorRepository

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class _Recorder:
    """A bulk write that answers each item doubled and remembers the lists it was given."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on

    async def __call__(self, session: AsyncSession, items: Sequence[int]) -> list[int]:
        self.calls.append(list(items))
        if self.fail_on in items:
            raise RuntimeError("bad item")
        return [2 * item for item in items]


async def test_concurrent_items_share_one_call_and_get_their_own_results(db: Database) -> None:
    batcher = WriteBatcher(db)
    recorder = _Recorder()
    bulk = BulkWrite("doubles", recorder)
    plain_ran: list[str] = []

    async def plain(session: AsyncSession) -> str:
        plain_ran.append("plain")
        return "plain"

    results = await asyncio.gather(
        *(batcher.run_bulk(bulk, item) for item in range(5)), batcher.run(plain)
    )
    await batcher.close()
    assert results == [0, 2, 4, 6, 8, "plain"]
    assert recorder.calls == [[0, 1, 2, 3, 4]] and plain_ran == ["plain"]
    assert batcher.flushes == 1


async def test_a_failing_bulk_is_rerun_item_by_item(db: Database) -> None:
    batcher = WriteBatcher(db)
    recorder = _Recorder(fail_on=2)
    bulk = BulkWrite("doubles", recorder)

    results = await asyncio.gather(
        *(batcher.run_bulk(bulk, item) for item in range(4)), return_exceptions=True
    )
    await batcher.close()
    assert results[:2] == [0, 2] and results[3] == 6
    assert isinstance(results[2], RuntimeError)
    assert recorder.calls[0] == [0, 1, 2, 3]
    assert sorted(recorder.calls[1:]) == [[0], [1], [2], [3]]


async def test_a_bulk_write_must_answer_every_item(db: Database) -> None:
    async def short(session: AsyncSession, items: Sequence[int]) -> list[int]:
        return items[:-1]  # type: ignore[return-value]

    batcher = WriteBatcher(db)
    bulk = BulkWrite("short", short)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await batcher.run_bulk(bulk, 1)
    await batcher.close()


async def test_batcher_runs_ops_together_and_isolates_a_failing_one(db: Database) -> None:
    batcher = WriteBatcher(db)

    async def ok(session: AsyncSession) -> int:
        return await AlertCursorRepository(session).start_listing(123, now=NOW, listed_before=NOW)

    async def boom(session: AsyncSession) -> int:
        raise RuntimeError("bad op")

    results = await asyncio.gather(
        batcher.run(ok), batcher.run(boom), batcher.run(ok), return_exceptions=True
    )
    await batcher.close()
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], RuntimeError)
    assert batcher.flushes >= 2  # the failed batch was re-run op by op
