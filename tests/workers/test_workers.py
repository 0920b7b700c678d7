"""The watcher and the alert scanner only lease due work and hand it to their service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.workers.alert_scanner import AlertScanner
from bot.workers.watcher import Watcher


@dataclass
class _Leased:
    watches: list[int] = field(default_factory=list)
    cursors: list[int] = field(default_factory=list)
    full: bool = False


@dataclass
class _Service:
    """Records what the worker asked for; `batches` are what each lease returns."""

    batches: list[_Leased]
    interval: float = 5.0
    steps: list[str] = field(default_factory=list)

    async def discover(self) -> None:
        self.steps.append("discover")

    async def lease_due(self) -> _Leased:
        self.steps.append("lease")
        return self.batches.pop(0)

    async def poll(self, leased: Any) -> None:
        self.steps.append(f"work {leased.watches}")

    async def scan(self, leased: Any) -> None:
        self.steps.append(f"work {leased.cursors}")

    async def close(self) -> None:
        self.steps.append("close")


async def test_the_watcher_hands_each_leased_batch_to_the_service() -> None:
    service = _Service([_Leased(watches=[1, 2], full=True), _Leased(watches=[3]), _Leased()])
    watcher = Watcher(service)  # type: ignore[arg-type]
    assert [await watcher.tick() for _ in range(3)] == [True, False, False]
    await watcher.close()
    assert service.steps == ["lease", "work [1, 2]", "lease", "work [3]", "lease", "close"]
    assert watcher.interval == 5.0


async def test_the_scanner_keeps_cursors_current_before_each_lease() -> None:
    service = _Service([_Leased(cursors=[7], full=True), _Leased()])
    scanner = AlertScanner(service)  # type: ignore[arg-type]
    assert [await scanner.tick() for _ in range(2)] == [True, False]
    assert service.steps == ["discover", "lease", "work [7]", "discover", "lease"]
