"""The worker base counts finished ticks, so tests can wait for rounds, not sleep."""

from __future__ import annotations

import asyncio

import pytest

from bot.metrics import Metrics
from bot.workers.base import PeriodicWorker


class Flaky(PeriodicWorker):
    name = "flaky"
    interval = 60.0  # type: ignore[assignment]
    fail_next = False

    async def _round(self) -> bool:
        if self.fail_next:
            raise RuntimeError("boom")
        return False


async def test_every_finished_tick_is_counted_failed_ones_too() -> None:
    metrics = Metrics()
    worker = Flaky(metrics=metrics)
    await worker.tick()
    worker.fail_next = True
    with pytest.raises(RuntimeError):
        await worker.tick()
    assert worker.ticks == 2
    assert metrics.worker_ticks.labels("flaky")._value.get() == 2
    assert b'skyvia_bot_worker_ticks_total{worker="flaky"} 2.0' in metrics.render()
    assert b'skyvia_bot_worker_tick_seconds_count{worker="flaky"} 2.0' in metrics.render()


async def test_wait_ticks_returns_after_that_many_more_ticks() -> None:
    worker = Flaky(metrics=Metrics())
    await worker.tick()
    waiting = asyncio.create_task(worker.wait_ticks(2))
    await worker.tick()
    await asyncio.sleep(0)
    assert not waiting.done()
    await worker.tick()
    await asyncio.wait_for(waiting, timeout=5)
    assert worker.ticks == 3
