"""The shared worker base counts finished ticks, so tests can wait for rounds, not sleep."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import pytest

from bot.metrics import Metrics
from bot.workers.base import PollingWorker


@dataclass
class Config:
    interval: float = 60.0
    max_backoff: float = 600.0


class Flaky(PollingWorker[Config]):
    name = "flaky"

    def _setup(self) -> None:
        self.fail_next = False

    async def tick(self) -> bool:
        if self.fail_next:
            raise RuntimeError("boom")
        return False


def flaky(metrics: Metrics) -> Flaky:
    nothing = cast(Any, None)
    return Flaky(
        db=nothing,
        skyvia=nothing,
        bindings=nothing,
        notifier=nothing,
        batcher=nothing,
        config=Config(),
        owner="worker:test",
        metrics=metrics,
    )


async def test_every_finished_tick_is_counted_failed_ones_too() -> None:
    metrics = Metrics()
    worker = flaky(metrics)
    await worker.tick()
    worker.fail_next = True
    with pytest.raises(RuntimeError):
        await worker.tick()
    assert worker.ticks == 2
    assert metrics.worker_ticks.labels("flaky")._value.get() == 2
    assert b'skyvia_bot_worker_ticks_total{worker="flaky"} 2.0' in metrics.render()


async def test_wait_ticks_returns_after_that_many_more_ticks() -> None:
    worker = flaky(Metrics())
    await worker.tick()
    waiting = asyncio.create_task(worker.wait_ticks(2))
    await worker.tick()
    await asyncio.sleep(0)
    assert not waiting.done()
    await worker.tick()
    await asyncio.wait_for(waiting, timeout=5)
    assert worker.ticks == 3
