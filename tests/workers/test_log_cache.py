"""A failure's details are fetched once, however many scans see it before its alerts are out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.skyvia.errors import SkyviaUnavailable
from bot.skyvia.models import Snapshot, SnapshotState
from bot.workers.alert_scanner import AlertScanner, LogCache, ScannerConfig

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


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


def _scanner(skyvia: _Skyvia) -> AlertScanner:
    return AlertScanner(
        db=None,  # type: ignore[arg-type]
        skyvia=skyvia,  # type: ignore[arg-type]
        bindings=None,  # type: ignore[arg-type]
        notifier=None,  # type: ignore[arg-type]
        batcher=None,  # type: ignore[arg-type]
        config=ScannerConfig(interval=1, lookback=timedelta(hours=1), lease_seconds=20),
        owner="me",
    )


CURSOR = SimpleNamespace(workspace_id=7, backup_id=456)


async def test_a_failure_seen_by_two_scans_is_fetched_once() -> None:
    skyvia = _Skyvia()
    scanner = _scanner(skyvia)
    first = await scanner._with_log(CURSOR, _snapshot(9001), "token")  # type: ignore[arg-type]
    again = await scanner._with_log(CURSOR, _snapshot(9001), "token")  # type: ignore[arg-type]
    other = await scanner._with_log(CURSOR, _snapshot(9002), "token")  # type: ignore[arg-type]
    assert first.log == again.log == "log of 9001" and other.log == "log of 9002"
    assert skyvia.calls == [(7, 456, 9001), (7, 456, 9002)]


async def test_an_unanswered_details_call_is_tried_again_next_scan() -> None:
    skyvia = _Skyvia(fail=True)
    scanner = _scanner(skyvia)
    for _ in range(2):
        alert = await scanner._with_log(CURSOR, _snapshot(9001), "token")  # type: ignore[arg-type]
        assert alert.log is None  # the alert goes out without the log rather than not at all
    assert len(skyvia.calls) == 2


def test_the_cache_keeps_the_most_recent_entries() -> None:
    cache = LogCache(size=2)
    cache.put((1, 1, 1), _snapshot(1))
    cache.put((1, 1, 2), _snapshot(2))
    assert cache.get((1, 1, 1)) is not None  # now the most recently used
    cache.put((1, 1, 3), _snapshot(3))
    assert len(cache) == 2
    assert cache.get((1, 1, 2)) is None
    assert cache.get((1, 1, 1)) is not None and cache.get((1, 1, 3)) is not None
