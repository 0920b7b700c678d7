"""The failure listing reads every page of the lookback, each failure once, and cannot loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.services.alerting.failure_listing import FailureLister
from bot.skyvia.client import MAX_TAKE
from bot.skyvia.models import Page, Snapshot, SnapshotState

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CURSOR = SimpleNamespace(workspace_id=7, backup_id=456, cursor=NOW)
BINDING = SimpleNamespace(id=1)


def _failure(snapshot_id: int) -> Snapshot:
    started = (NOW - timedelta(minutes=snapshot_id)).isoformat()
    return Snapshot.model_validate(
        {
            "snapshotId": snapshot_id,
            "queueTime": started,
            "startTime": started,
            "endTime": started,
            "state": SnapshotState.FAILED,
        }
    )


class _Skyvia:
    """Answers pages of `failures` by skip; `arrive` are prepended after the first call, as
    runs that end while the scan pages; `stuck` answers the first page with hasMore forever."""

    def __init__(
        self, failures: list[Snapshot], arrive: list[Snapshot] | None = None, stuck: bool = False
    ) -> None:
        self.failures = failures
        self.arrive = arrive or []
        self.stuck = stuck
        self.skips: list[int] = []

    async def list_snapshots(self, token: str, *args: Any, take: int, skip: int, **kw: Any) -> Any:
        self.skips.append(skip)
        if self.stuck:
            return Page[Snapshot](data=self.failures[:take], hasMore=True)
        data = self.failures[skip : skip + take]
        has_more = skip + take < len(self.failures)
        self.failures = self.arrive + self.failures
        self.arrive = []
        return Page[Snapshot](data=data, hasMore=has_more)


class _Tokens:
    """Every binding's token is usable (a fault in one binding is `TokenChecks`' own test)."""

    async def usable_token(self, binding: Any, now: datetime) -> str:
        return "token"


def _lister(skyvia: _Skyvia) -> FailureLister:
    return FailureLister(
        skyvia=skyvia,  # type: ignore[arg-type]
        tokens=_Tokens(),  # type: ignore[arg-type]
        backoff=None,  # type: ignore[arg-type]
        lookback=timedelta(days=1),
    )


async def _ids(skyvia: _Skyvia) -> list[int]:
    listed = await _lister(skyvia).list_failures(
        CURSOR,  # type: ignore[arg-type]
        [BINDING],  # type: ignore[list-item]
        asyncio.Semaphore(1),
        NOW,
    )
    assert listed.snapshots is not None
    return [s.snapshot_id for s in listed.snapshots]


async def test_more_than_a_page_is_read_to_the_oldest() -> None:
    failures = [_failure(i) for i in range(1, MAX_TAKE * 2 + 6)]
    skyvia = _Skyvia(failures)
    assert await _ids(skyvia) == [s.snapshot_id for s in failures]
    assert skyvia.skips == [0, MAX_TAKE, 2 * MAX_TAKE]


async def test_a_run_ending_while_paging_skips_nothing_and_counts_once() -> None:
    failures = [_failure(i) for i in range(10, MAX_TAKE + 20)]
    skyvia = _Skyvia(failures, arrive=[_failure(1)])
    ids = await _ids(skyvia)
    assert sorted(ids) == sorted(s.snapshot_id for s in failures)  # 1 comes next scan
    assert len(ids) == len(set(ids))


async def test_an_answer_that_claims_more_forever_ends_the_walk() -> None:
    skyvia = _Skyvia([_failure(i) for i in range(1, 4)], stuck=True)
    assert await _ids(skyvia) == [1, 2, 3]
    assert len(skyvia.skips) == 2
