"""The alert cursor's rules and the write batcher, without Slack."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.workers.alert_scanner import CLOCK_MARGIN, MAX_LOOKBACK, ScannerConfig, next_cursor
from bot.workers.backoff import WorkspaceBackoff, retry_delay
from storage.batching import WriteBatcher
from storage.db import Database
from storage.repositories import AlertCursorRepository

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_cursor_trails_the_scan_by_the_clock_margin() -> None:
    assert next_cursor(NOW, []) == NOW - CLOCK_MARGIN


def test_cursor_stays_at_a_failure_not_delivered_yet() -> None:
    pending = NOW - timedelta(minutes=30)
    assert next_cursor(NOW, [NOW - timedelta(minutes=1), pending]) == pending


def test_lookback_is_the_give_up_limit_capped_at_a_day() -> None:
    assert ScannerConfig.for_interval(60, give_up=3600).lookback == timedelta(hours=1)
    assert ScannerConfig.for_interval(60, give_up=7 * 86400).lookback == MAX_LOOKBACK
    assert ScannerConfig.for_interval(0.3, give_up=86400).relist_period == timedelta(seconds=3)


async def test_advance_never_moves_the_cursor_back(db: Database) -> None:
    async with db.session() as session:
        cursors = AlertCursorRepository(session)
        await cursors.ensure(123, 456, "Nightly CRM", NOW)
        [claimed] = await cursors.claim_due("me", NOW, 10, 30)
        # A scan that could not deliver an older failure asks for an earlier cursor: kept.
        assert await cursors.advance(
            123, 456, owner="me", cursor=NOW - timedelta(hours=1), next_scan_at=NOW
        )
        cursor = await cursors.get(123, 456)
    assert claimed.backup_id == 456 and cursor is not None and cursor.cursor == NOW


async def test_start_listing_lets_one_replica_relist_a_workspace(db: Database) -> None:
    async with db.session() as session:
        cursors = AlertCursorRepository(session)
        assert await cursors.start_listing(123, now=NOW, listed_before=NOW)  # no cursors yet
        await cursors.ensure(123, 456, None, NOW)
        period = timedelta(minutes=10)
        assert await cursors.start_listing(123, now=NOW, listed_before=NOW - period)
        assert not await cursors.start_listing(123, now=NOW, listed_before=NOW - period)
        later = NOW + period * 2
        assert await cursors.start_listing(123, now=later, listed_before=later - period)


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(n, base=1.0, cap=30.0, jitter=0) for n in range(1, 8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]


def test_workspace_backoff_honours_retry_after_and_clears_in_time() -> None:
    now = [0.0]
    backoff = WorkspaceBackoff(base=1.0, cap=60.0, clock=lambda: now[0])
    delay = backoff.failed(123, retry_after=10)
    assert delay >= 10 and backoff.remaining(123) == pytest.approx(delay)
    assert backoff.remaining(124) == 0
    now[0] += delay + 0.1
    assert backoff.remaining(123) == 0


async def test_batcher_runs_ops_together_and_isolates_a_failing_one(db: Database) -> None:
    batcher = WriteBatcher(db)

    async def ok(session: AsyncSession) -> int:
        return await AlertCursorRepository(session).start_listing(123, now=NOW, listed_before=NOW)

    async def boom(session: AsyncSession) -> int:
        raise RuntimeError("bad op")

    results = await asyncio.gather(
        batcher.run(ok), batcher.run(boom), batcher.run(ok), return_exceptions=True
    )
    await batcher.close()
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], RuntimeError)
    assert batcher.flushes >= 2  # the failed batch was re-run op by op
