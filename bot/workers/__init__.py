"""Background workers (watcher, alert scanner) and the group that runs them.

`build_workers(container)` is what `run` and `workers` start (it takes any `WorkerNeeds`, such
as `bot.container.Container`); each worker is a `tick()` called every `interval` seconds, so
a slow or failing tick never stops the loop or the other workers. A tick that returns True
found more due work than one batch holds: the next tick starts at once instead of an interval
later, so a backlog drains at the speed of the work, not at one batch per interval
(benchmarks/watch.py: 5,000 watches in batches of 500).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.workers.base import PeriodicWorker

if TYPE_CHECKING:
    from bot.workers.registry import WorkerNeeds

log = logging.getLogger("bot.workers")

__all__ = ["PeriodicWorker", "WorkerGroup", "build_workers"]


class WorkerGroup:
    def __init__(
        self,
        workers: list[PeriodicWorker],
        *,
        on_start: Sequence[Callable[[], Awaitable[Any]]] = (),
    ) -> None:
        """`on_start`: one-off chores before the first tick (a failing one is logged, not fatal)."""
        self.workers = workers
        self._on_start = list(on_start)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stopping.clear()
        for chore in self._on_start:
            try:
                await chore()
            except Exception:
                log.exception("start-up chore %s failed", getattr(chore, "__name__", chore))
        self._tasks = [
            asyncio.create_task(self._loop(worker), name=f"worker:{worker.name}")
            for worker in self.workers
        ]

    async def _loop(self, worker: PeriodicWorker) -> None:
        failures = 0
        while not self._stopping.is_set():
            more = False
            started = asyncio.get_running_loop().time()
            try:
                more = bool(await worker.tick())
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("worker %s tick failed (%d in a row)", worker.name, failures)
            if more:
                await asyncio.sleep(0)  # let requests and the other worker run in between
                continue
            # A round starts every interval (the work it leases is due on that schedule, see
            # `bot.services.backoff.next_due`); after repeated failures (the database is down)
            # it backs off, up to 30 s.
            took = asyncio.get_running_loop().time() - started
            delay = (
                max(0.0, worker.interval - took)
                if failures == 0
                else min(30.0, worker.interval * 2**failures)
            )
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def stop(self, timeout: float = 15.0) -> None:
        """Lets each worker finish its current tick (so leases are released), then closes them."""
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for worker in self.workers:
            try:
                await worker.close()
            except Exception:
                log.exception("worker %s did not close cleanly", worker.name)


def build_workers(container: WorkerNeeds) -> WorkerGroup:
    """The workers a process runs, wired from the composition root's parts (`WorkerNeeds`)."""
    from bot.workers.registry import workers_for

    # Before any tick: no worker may act for a team the default Skyvia token no longer serves.
    return WorkerGroup(
        workers_for(container), on_start=[container.token_policy.pause_refused_defaults]
    )
