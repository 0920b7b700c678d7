"""Backoff after Skyvia errors: per row by error count, per workspace honouring Retry-After."""

from __future__ import annotations

import pytest

from bot.services.backoff import WorkspaceBackoff, retry_delay


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
