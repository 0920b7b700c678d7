"""The retention worker: one replica at a time runs the job, at the configured interval, and
the app's worker group runs it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet

from bot.config import load_settings
from bot.container import Container
from bot.services.retention import PruneReport, RetentionPolicy, RetentionService
from bot.workers.registry import workers_for
from bot.workers.retention import CHECK_EVERY, RetentionWorker
from storage.db import Database

DAY = timedelta(days=1)
POLICY = RetentionPolicy(
    clicks=DAY,
    deliveries=14 * DAY,
    finished_watches=30 * DAY,
    audit=90 * DAY,
    alert_lookback=DAY,
    interval=3600.0,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class GatedRetention(RetentionService):
    """Counts runs; a run waits for `gate` while `running` says it is in progress."""

    def __init__(self, db: Database, clock: Clock, *, more: bool = False) -> None:
        super().__init__(db=db, policy=POLICY, clock=clock)
        self.runs = 0
        self.running = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.more = more

    async def prune(self, owner: str) -> PruneReport:
        self.runs += 1
        self.running.set()
        await self.gate.wait()
        return PruneReport(more=self.more)


async def test_two_replicas_one_run_at_a_time_then_one_per_interval(
    db: Database, replica: Database
) -> None:
    clock = Clock()
    first, second = GatedRetention(db, clock), GatedRetention(replica, clock)
    a = RetentionWorker(first, owner="replica-a")
    b = RetentionWorker(second, owner="replica-b")
    first.gate.clear()

    running = asyncio.create_task(a.tick())
    await asyncio.wait_for(first.running.wait(), 10)
    assert await b.tick() is False  # a holds the turn
    first.gate.set()
    assert await running is False
    assert await b.tick() is False  # done for this interval, whoever asks
    assert await a.tick() is False
    clock.now += timedelta(seconds=POLICY.interval)
    assert await b.tick() is False

    assert (first.runs, second.runs) == (1, 1)


async def test_a_run_cut_short_is_due_again_at_once(db: Database, replica: Database) -> None:
    clock = Clock()
    first, second = GatedRetention(db, clock, more=True), GatedRetention(replica, clock)

    assert await RetentionWorker(first, owner="replica-a").tick() is True
    assert await RetentionWorker(second, owner="replica-b").tick() is False

    assert (first.runs, second.runs) == (1, 1)


def test_a_replica_looks_often_but_never_more_often_than_runs_are_due(db: Database) -> None:
    often = RetentionService(db=db, policy=POLICY)
    rarely = RetentionService(db=db, policy=replace(POLICY, interval=5))

    assert RetentionWorker(often, owner="a").interval == CHECK_EVERY
    assert RetentionWorker(rarely, owner="a").interval == 5


async def test_the_apps_workers_include_retention_with_the_configured_ages(
    migrated_database_url: str,
) -> None:
    settings = load_settings(
        _env_file=None,
        DATABASE_URL=migrated_database_url,
        SKYVIA_BOT_AUDIT_RETENTION="0",
        SKYVIA_BOT_RETENTION_INTERVAL="120",
        SKYVIA_BOT_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    container = await Container.create(settings)
    try:
        [worker] = [w for w in workers_for(container) if isinstance(w, RetentionWorker)]
    finally:
        await container.aclose()

    policy = worker.retention.policy
    assert policy.audit is None and policy.interval == 120
    assert policy.deliveries == timedelta(seconds=settings.delivery_retention)
    assert policy.alert_lookback == min(DAY, timedelta(seconds=settings.watch_give_up))
