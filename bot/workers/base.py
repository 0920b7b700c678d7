"""What the watcher and the alert scanner share: their collaborators, backoff, clock, batcher.

Both are `PeriodicWorker`s (see `bot/workers/__init__.py`) over the same services; keeping the
wiring here means a new collaborator or a change to backoff is made once for both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from bot.metrics import Metrics
from bot.services.bindings import BindingService
from bot.skyvia.client import SkyviaClient
from bot.slack.notifier import Notifier
from bot.workers.backoff import WorkspaceBackoff
from storage.batching import WriteBatcher
from storage.db import Database
from storage.types import utcnow


class IntervalConfig(Protocol):
    @property
    def interval(self) -> float: ...

    @property
    def max_backoff(self) -> float: ...


ConfigT = TypeVar("ConfigT", bound=IntervalConfig)


class PollingWorker(Generic[ConfigT]):
    name: str

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
        self._setup()

    def _setup(self) -> None:
        """Per-worker state, after the shared wiring (constructors stay typed and shared)."""

    @property
    def interval(self) -> float:
        return self.config.interval

    async def close(self) -> None:
        await self._batcher.close()
