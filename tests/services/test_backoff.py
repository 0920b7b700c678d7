"""Backoff after Skyvia errors: per row by error count; a held workspace probes once per base.

Per workspace, a failure holds every call but one probe per `base` seconds (Retry-After holds
all of them), and the first success ends the hold: after an outage, work resumes within about
one interval however long it lasted.
"""

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


def test_a_held_workspace_lets_one_probe_through_per_base_period() -> None:
    now = [0.0]
    backoff = WorkspaceBackoff(base=1.0, cap=600.0, clock=lambda: now[0])
    for _ in range(20):  # many calls of one round failing count as one, not 2**20
        assert backoff.failed(123) == 1.0
    assert backoff.remaining(123) == pytest.approx(1.0)
    now[0] += 1.0
    assert backoff.remaining(123) == 0  # the probe
    assert backoff.remaining(123) == pytest.approx(1.0)  # everyone else waits for its answer
    backoff.failed(123)
    now[0] += 60.0  # a long outage: still one probe per second, never minutes of silence
    assert backoff.remaining(123) == 0
    backoff.succeeded(123)
    assert backoff.remaining(123) == 0 and backoff.remaining(123) == 0
    assert not backoff.held(123)


def test_retry_after_holds_every_call_and_a_success_ends_the_hold() -> None:
    now = [0.0]
    backoff = WorkspaceBackoff(base=1.0, cap=60.0, clock=lambda: now[0])
    assert backoff.failed(123, retry_after=600) == 60.0  # capped
    now[0] += 30
    assert backoff.remaining(123) == pytest.approx(30.0)
    backoff.succeeded(123)  # a call made elsewhere (another row) got through
    assert backoff.remaining(123) == 0
