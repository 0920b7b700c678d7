"""What a worker is: a named round of due work that `WorkerGroup` runs every `interval` seconds.

A worker only schedules and leases: each round (`_round`) leases a batch of due work and hands
it to a service (`bot.services.watching`, `bot.services.alerting.scanner`), which does the work.

Every finished tick is counted (`ticks`, and `skyvia_bot_worker_ticks_total` in `/metrics`), so a
test that must show nothing happened waits for a few rounds of work instead of a guessed sleep;
its duration goes to `skyvia_bot_worker_tick_seconds` (the benchmarks show that a scan round
lasts well under an interval, however many channels listen).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from bot.metrics import Metrics


class PeriodicWorker:
    name: str
    ticks: int
    """Ticks finished so far (failed ones too): one round of work each."""

    def __init__(self, *, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        self.ticks = 0
        self._ticked = asyncio.Condition()

    @property
    def interval(self) -> float:
        raise NotImplementedError

    async def tick(self) -> bool:
        """One round of due work; True when more is due right now (a full batch)."""
        began = time.monotonic()
        try:
            return await self._round()
        finally:
            await self._count_tick(time.monotonic() - began)

    async def _round(self) -> bool:
        """Leases a batch of due work and hands it to the service; True if the batch was full."""
        raise NotImplementedError

    async def close(self) -> None:
        """Releases what the worker holds (nothing by default)."""

    def wait_ticks(self, count: int) -> Awaitable[None]:
        """Done once `count` more ticks than now have finished (the first may have begun already).

        "Now" is the call, not the first await: the target is fixed before anything else runs.
        """
        return self._ticks_reach(self.ticks + count)

    async def _ticks_reach(self, target: int) -> None:
        async with self._ticked:
            await self._ticked.wait_for(lambda: self.ticks >= target)

    async def _count_tick(self, seconds: float) -> None:
        self.ticks += 1
        if self._metrics is not None:
            self._metrics.worker_ticks.labels(self.name).inc()
            self._metrics.worker_tick_seconds.labels(self.name).observe(seconds)
        async with self._ticked:
            self._ticked.notify_all()
