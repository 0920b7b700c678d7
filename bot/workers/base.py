"""What the watcher and the alert scanner share: their collaborators, backoff, clock, batcher.

Both are `PeriodicWorker`s (see `bot/workers/__init__.py`) over the same services; keeping the
wiring here means a new collaborator or a change to backoff is made once for both.

Every finished tick is counted (`ticks`, and `skyvia_bot_worker_ticks_total` in `/metrics`), so a
test that must show nothing happened waits for a few rounds of work instead of a guessed sleep.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.services.bindings import BindingService
from bot.skyvia.client import SkyviaClient
from bot.slack.notifier import Notifier
from bot.workers.backoff import WorkspaceBackoff
from storage.batching import WriteBatcher
from storage.db import Database


class IntervalConfig(Protocol):
    @property
    def interval(self) -> float: ...

    @property
    def max_backoff(self) -> float: ...


ConfigT = TypeVar("ConfigT", bound=IntervalConfig)


class PollingWorker(Generic[ConfigT]):
    name: str
    ticks: int
    """Ticks finished so far (failed ones too): one round of work each."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Counts each finished `tick` of a subclass, so the subclasses need not remember to."""
        super().__init_subclass__(**kwargs)
        if "tick" in cls.__dict__:
            cls.tick = _counted(cls.__dict__["tick"])  # type: ignore[attr-defined]

    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        bindings: BindingService,
        notifier: Notifier,
        batcher: WriteBatcher,
        config: ConfigT,
        owner: str,
        metrics: Metrics | None = None,
        backoff: WorkspaceBackoff | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._bindings = bindings
        self._notifier = notifier
        self._batcher = batcher
        self.config = config
        self.owner = owner
        self._metrics = metrics
        self._backoff = backoff or WorkspaceBackoff(base=config.interval, cap=config.max_backoff)
        self._clock = clock
        self.ticks = 0
        self._ticked = asyncio.Condition()
        self._setup()

    def _setup(self) -> None:
        """Per-worker state, after the shared wiring (constructors stay typed and shared)."""

    @property
    def interval(self) -> float:
        return self.config.interval

    def wait_ticks(self, count: int) -> Awaitable[None]:
        """Done once `count` more ticks than now have finished (the first may have begun already).

        "Now" is the call, not the first await: the target is fixed before anything else runs.
        """
        return self._ticks_reach(self.ticks + count)

    async def _ticks_reach(self, target: int) -> None:
        async with self._ticked:
            await self._ticked.wait_for(lambda: self.ticks >= target)

    async def _count_tick(self) -> None:
        self.ticks += 1
        if self._metrics is not None:
            self._metrics.worker_ticks.labels(self.name).inc()
        async with self._ticked:
            self._ticked.notify_all()

    async def close(self) -> None:
        await self._batcher.close()


TickT = TypeVar("TickT")


def _counted(
    tick: Callable[[Any], Awaitable[TickT]],
) -> Callable[[PollingWorker[Any]], Awaitable[TickT]]:
    @functools.wraps(tick)
    async def counted(self: PollingWorker[Any]) -> TickT:
        try:
            return await tick(self)
        finally:
            await self._count_tick()

    return counted
