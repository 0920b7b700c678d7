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

The flusher opens its own sessions, so callers must not hold a session open (on SQLite it would
hold the write lock the flusher waits for) while awaiting `run`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[AsyncSession], Awaitable[Any]]


class WriteBatcher:
    def __init__(self, db: Database, *, max_batch: int = 200) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: list[tuple[Op, asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0

    async def run(self, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs `op(session)` in a shared transaction and returns its result once committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_loop(), name="write-batcher")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
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

    async def _flush(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        self.flushes += 1
        try:
            results = []
            async with self._db.session() as session:
                for op, _ in batch:
                    results.append(await op(session))
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            log.warning("a batch of %d writes failed; running them one by one", len(batch))
            for item in batch:
                await self._flush([item])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
