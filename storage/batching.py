"""Coalesces the small writes of many concurrent tasks into few transactions.

A worker tick handles hundreds of watches at once, and each one needs two or three tiny writes
(claim a ledger row, mark it sent, finish the watch). One transaction per write would make the
database, not Skyvia or Slack, the bottleneck: SQLite runs transactions one at a time, and on
PostgreSQL each commit is a round trip and a WAL flush. `WriteBatcher.run(op)` queues `op` and
a single flusher task runs every queued op in one transaction, so the cost follows the number of
flushes, not of writes, while each caller still awaits its own result.

Each op must be safe to run again: if a batch fails, it is rolled back as a whole and every op
is re-run in a transaction of its own, so one bad op cannot take the others down with it. That
also covers PostgreSQL aborting a batch as a deadlock victim, which can happen when two replicas'
batches lock the same two rows in opposite orders (two claims of the same ledger keys after a
lease ran out): the re-run takes one lock per transaction and cannot deadlock.

Not when the database itself failed (`storage.db.is_unavailable`: refused, reset, timed out,
shut down, locked past the busy timeout): re-running N ops one after another would wait out the
same connect or statement timeout N times, holding every caller that long for nothing. Then
every op of the batch fails at once with that error, and so do the ops of a one-by-one re-run
still waiting when the database goes away during it; callers retry on their next tick, which
is why ops must be safe to run again (a failed COMMIT may have committed).

The flusher opens its own sessions, so callers must not hold a session open (on SQLite it would
hold the write lock the flusher waits for) while awaiting `run`.

Bulk writes: one transaction per flush still leaves one statement per write, and building and
executing a statement costs more than the row it writes (in the benchmark a quarter of the
watcher's CPU). A `BulkWrite` is a write many tasks ask for with different items: everything
queued for the same `BulkWrite` in a flush is handed to it as one list, so it can use one
multi-row statement or an executemany. Ops queued at the same time come from tasks running
concurrently, none of which waits on another's op, so running the plain ops first and then
each bulk write's items together is as valid an order as the queue's. A bulk write must return
one result per item, in order, and, like any op, be safe to run again: when a flush fails each
item is re-run alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database, is_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")
Op = Callable[[AsyncSession], Awaitable[Any]]


class BulkWrite(Generic[I, R]):
    """A write whose concurrent requests run as one statement per flush (see module doc).

    `write(session, items)` returns one result per item, in the same order.
    """

    def __init__(
        self,
        name: str,
        write: Callable[[AsyncSession, Sequence[I]], Awaitable[Sequence[R]]],
    ) -> None:
        self.name = name
        self._write = write

    async def __call__(self, session: AsyncSession, items: Sequence[I]) -> Sequence[R]:
        results = await self._write(session, items)
        if len(results) != len(items):
            raise RuntimeError(f"{self.name}: {len(results)} results for {len(items)} items")
        return results

    def __repr__(self) -> str:
        return f"BulkWrite({self.name!r})"


class _Item:
    """One request of a bulk write, queued like an op."""

    __slots__ = ("bulk", "item")

    def __init__(self, bulk: BulkWrite[Any, Any], item: Any) -> None:
        self.bulk = bulk
        self.item = item


_Entry = tuple[Op | _Item, "asyncio.Future[Any]"]


class WriteBatcher:
    def __init__(self, db: Database, *, max_batch: int = 200) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: list[_Entry] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0

    async def run(self, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs `op(session)` in a shared transaction and returns its result once committed."""
        result: T = await self._enqueue(op)
        return result

    async def run_bulk(self, bulk: BulkWrite[I, R], item: I) -> R:
        """Adds `item` to `bulk`'s next statement; returns its result once committed."""
        result: R = await self._enqueue(_Item(bulk, item))
        return result

    async def _enqueue(self, entry: Op | _Item) -> Any:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_loop(), name="write-batcher")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Stops the flusher; ops still queued (none once the workers' ticks ended) are run."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            await self._flush(batch)

    async def _flush_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._flush(batch)

    async def _flush(self, batch: list[_Entry]) -> None:
        """Runs `batch` in one transaction; on failure, see the module docstring."""
        self.flushes += 1
        try:
            results = await self._transaction(batch)
        except Exception as exc:
            if len(batch) > 1 and not is_unavailable(exc):
                log.warning("a batch of %d writes failed; running them one by one", len(batch))
                await self._one_by_one(batch)
                return
            if len(batch) > 1:
                log.warning(
                    "a batch of %d writes failed: the database is unavailable (%s: %s)",
                    len(batch),
                    type(exc).__name__,
                    exc,
                )
            _fail(batch, exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _one_by_one(self, batch: list[_Entry]) -> None:
        """Each op in a transaction of its own, until the database itself fails."""
        for index, entry in enumerate(batch):
            self.flushes += 1
            future = entry[1]
            try:
                (result,) = await self._transaction([entry])
            except Exception as exc:
                _fail([entry], exc)
                if is_unavailable(exc):
                    _fail(batch[index + 1 :], exc)
                    return
                continue
            if not future.done():
                future.set_result(result)

    async def _transaction(self, batch: list[_Entry]) -> list[Any]:
        """Every op of `batch` in one transaction: plain ops first, then each bulk write."""
        results: list[Any] = [None] * len(batch)
        groups: dict[BulkWrite[Any, Any], list[int]] = {}
        async with self._db.session() as session:
            for index, (entry, _) in enumerate(batch):
                if isinstance(entry, _Item):
                    groups.setdefault(entry.bulk, []).append(index)
                else:
                    results[index] = await entry(session)
            for bulk, indexes in groups.items():
                items = [batch[i][0].item for i in indexes]  # type: ignore[union-attr]
                for index, result in zip(indexes, await bulk(session, items), strict=True):
                    results[index] = result
        return results


def _fail(entries: list[_Entry], error: Exception) -> None:
    for _, future in entries:
        if not future.done():
            future.set_exception(error)
