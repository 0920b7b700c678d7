"""WorkerGroup: a tick that reports a full batch is followed at once, not an interval later."""

from __future__ import annotations

import asyncio
import itertools

from bot.workers import WorkerGroup

INTERVAL = 0.5


class BacklogWorker:
    """Reports `full_batches` full batches, then empty ones; notes when each tick began."""

    name = "backlog"
    interval = INTERVAL

    def __init__(self, full_batches: int, stop_after: int) -> None:
        self.left = full_batches
        self.stop_after = stop_after
        self.began: list[float] = []
        self.done = asyncio.Event()

    async def tick(self) -> bool:
        self.began.append(asyncio.get_running_loop().time())
        if len(self.began) >= self.stop_after:
            self.done.set()
        if self.left:
            self.left -= 1
            return True
        return False

    async def close(self) -> None:
        pass


async def test_a_backlog_drains_without_waiting_an_interval_per_batch() -> None:
    worker = BacklogWorker(full_batches=3, stop_after=5)
    group = WorkerGroup([worker])
    await group.start()
    try:
        await asyncio.wait_for(worker.done.wait(), timeout=10)
    finally:
        await group.stop()
    gaps = [b - a for a, b in itertools.pairwise(worker.began)]
    # Three full batches: the next tick each time at once; after the empty fourth, an interval.
    assert all(gap < INTERVAL / 2 for gap in gaps[:3]), gaps
    assert gaps[3] >= INTERVAL * 0.9, gaps
