"""WorkerGroup: a tick that reports a full batch is followed at once, not an interval later."""

from __future__ import annotations

import asyncio

from bot.workers import WorkerGroup


class BacklogWorker:
    """Reports `full_batches` full batches, then an empty one, with a long interval."""

    name = "backlog"
    interval = 60.0

    def __init__(self, full_batches: int) -> None:
        self.left = full_batches
        self.ticks = 0
        self.drained = asyncio.Event()

    async def tick(self) -> bool:
        self.ticks += 1
        if not self.left:
            self.drained.set()
        if self.left:
            self.left -= 1
            return True
        return False

    async def close(self) -> None:
        pass


async def test_a_backlog_drains_without_waiting_an_interval_per_batch() -> None:
    worker = BacklogWorker(full_batches=3)
    group = WorkerGroup([worker])
    await group.start()
    try:
        # Three full batches and the empty tick after them, long before one 60 s interval.
        await asyncio.wait_for(worker.drained.wait(), timeout=10)
        await asyncio.sleep(0.1)
        assert worker.ticks == 4  # then it waits the interval again
    finally:
        await group.stop()
