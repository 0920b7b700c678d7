"""Leased work: the services that work through due rows claimed under a lease.

Such a service claims a batch of due rows (watches, alert cursors, timers) under a lease named
by `owner`, works on it concurrently, and writes each result fenced by that lease, so two
processes never hold the same row and a crashed one's rows wait only `lease_for(interval)`: how
long a lease lasts is said once, here, for every one of them and for the workers' registry.
Watching and alerting also share their collaborators and the injected clock (`LeasedService`);
keeping that wiring here means a new collaborator or a change to backoff is made once for both.
Each has its own per-workspace Skyvia backoff, so the one's errors never hold the other's work.
The claim itself is storage's (`storage/repositories/_leases.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.services.alerting.token_checks import TokenChecks
from bot.services.announcements import Announcer
from bot.services.backoff import WorkspaceBackoff
from bot.services.channel_pauses import ChannelPauses
from bot.services.token_policy import TokenPolicy
from bot.skyvia.client import SkyviaClient
from storage.batching import WriteBatcher
from storage.db import Database


def lease_for(interval: float) -> float:
    """How long a claim lasts: many intervals, at least 5 s, at most 5 min.

    It must outlast a batch's work (Skyvia retries, paced posts) and is how long a crashed
    process's work waits before another picks it up.
    """
    return min(300.0, max(5.0, 20 * interval))


class IntervalConfig(Protocol):
    @property
    def interval(self) -> float: ...

    @property
    def max_backoff(self) -> float: ...


ConfigT = TypeVar("ConfigT", bound=IntervalConfig)


class LeasedService(Generic[ConfigT]):
    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        token_policy: TokenPolicy,
        announcer: Announcer,
        batcher: WriteBatcher,
        pauses: ChannelPauses,
        config: ConfigT,
        owner: str,
        metrics: Metrics | None = None,
        backoff: WorkspaceBackoff | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._announcer = announcer
        self._batcher = batcher
        self.config = config
        self.owner = owner
        self._metrics = metrics
        self._backoff = backoff or WorkspaceBackoff(base=config.interval, cap=config.max_backoff)
        self._clock = clock
        self._tokens = TokenChecks(announcer=announcer, token_policy=token_policy, pauses=pauses)
        self._setup()

    def _setup(self) -> None:
        """Per-service state, after the shared wiring (constructors stay typed and shared)."""

    @property
    def interval(self) -> float:
        return self.config.interval

    async def close(self) -> None:
        """Flushes the writes still queued (the batcher may be shared; closing twice is fine)."""
        await self._batcher.close()
