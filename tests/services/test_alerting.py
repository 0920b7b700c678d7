"""Alerting's rules that need no Slack: where the cursor moves, the lookback, failure details.

A failure's details (its log) are fetched once, however many scans see it before its alerts
are out, and only the most recently used are kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.services.alerting.scanner import (
    CLOCK_MARGIN,
    AlertingConfig,
    AlertingService,
    next_cursor,
)
from bot.skyvia.errors import SkyviaUnavailable
from bot.skyvia.models import Snapshot, SnapshotState

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_cursor_trails_the_scan_by_the_clock_margin() -> None:
    assert next_cursor(NOW, []) == NOW - CLOCK_MARGIN


def test_cursor_stays_at_a_failure_not_delivered_yet() -> None:
    pending = NOW - timedelta(minutes=30)
    assert next_cursor(NOW, [NOW - timedelta(minutes=1), pending]) == pending


def test_lookback_is_its_own_setting() -> None:
    assert AlertingConfig.for_interval(60, lookback=3600).lookback == timedelta(hours=1)
    assert AlertingConfig.for_interval(60, lookback=7 * 86400).lookback == timedelta(days=7)
    assert AlertingConfig.for_interval(0.3, lookback=86400).relist_period == timedelta(seconds=3)


def _snapshot(snapshot_id: int, log: str | None = None) -> Snapshot:
    return Snapshot(
        snapshot_id=snapshot_id,
        queue_time=NOW,
        start_time=NOW,
        end_time=NOW,
        state=SnapshotState.FAILED,
        log=log,
    )


class _Skyvia:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.fail = fail

    async def get_snapshot(self, token: str, workspace: int, backup: int, snapshot: int) -> Any:
        self.calls.append((workspace, backup, snapshot))
        if self.fail:
            raise SkyviaUnavailable("down")
        return _snapshot(snapshot, log=f"log of {snapshot}")


def _alerting(skyvia: _Skyvia, log_cache_size: int = 2000) -> AlertingService:
    return AlertingService(
        db=None,  # type: ignore[arg-type]
        skyvia=skyvia,  # type: ignore[arg-type]
        token_policy=None,  # type: ignore[arg-type]
        announcer=None,  # type: ignore[arg-type]
        batcher=None,  # type: ignore[arg-type]
        pauses=None,  # type: ignore[arg-type]
        config=AlertingConfig(
            interval=1,
            lookback=timedelta(hours=1),
            lease_seconds=20,
            log_cache_size=log_cache_size,
        ),
        owner="me",
    )


CURSOR = SimpleNamespace(workspace_id=7, backup_id=456)


async def _logs_of(alerting: AlertingService, *snapshot_ids: int) -> list[str | None]:
    found = [
        await alerting._with_log(CURSOR, _snapshot(snapshot_id), "token")  # type: ignore[arg-type]
        for snapshot_id in snapshot_ids
    ]
    return [snapshot.log for snapshot in found]


async def test_a_failure_seen_by_two_scans_is_fetched_once() -> None:
    skyvia = _Skyvia()
    logs = await _logs_of(_alerting(skyvia), 9001, 9001, 9002)
    assert logs == ["log of 9001", "log of 9001", "log of 9002"]
    assert skyvia.calls == [(7, 456, 9001), (7, 456, 9002)]


async def test_an_unanswered_details_call_is_tried_again_next_scan() -> None:
    skyvia = _Skyvia(fail=True)
    # The alert goes out without the log rather than not at all.
    assert await _logs_of(_alerting(skyvia), 9001, 9001) == [None, None]
    assert len(skyvia.calls) == 2


async def test_the_least_recently_used_details_go_first_once_the_cache_is_full() -> None:
    skyvia = _Skyvia()
    alerting = _alerting(skyvia, log_cache_size=2)
    await _logs_of(alerting, 1, 2, 1, 3)  # 1 was used after 2, so 2 goes when 3 comes
    assert skyvia.calls == [(7, 456, 1), (7, 456, 2), (7, 456, 3)]
    await _logs_of(alerting, 1, 3, 2)
    assert skyvia.calls[3:] == [(7, 456, 2)]
