"""The stale check's rules that need no Slack: learning the cadence, the limit, when to look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.services.alerting.failure_listing import Listeners
from bot.services.alerting.staleness import AUTO_FLOOR, StaleTracker, learn, limit_of
from bot.skyvia.models import Snapshot, SnapshotState
from storage.repositories import AUTO, StaleSetting

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _run(snapshot_id: int, hours_ago: float, state: SnapshotState, scheduled: bool) -> Snapshot:
    start = NOW - timedelta(hours=hours_ago)
    return Snapshot.model_validate(
        {
            "snapshotId": snapshot_id,
            "startTime": start,
            "endTime": start + timedelta(minutes=5),
            "state": state,
            "runBySchedule": scheduled,
        }
    )


def test_cadence_is_the_median_gap_of_scheduled_runs_and_the_last_good_the_latest() -> None:
    runs = [
        _run(1, 24, SnapshotState.SUCCEEDED, True),
        _run(2, 18, SnapshotState.SUCCEEDED, True),
        _run(3, 12, SnapshotState.FAILED, True),
        _run(4, 7, SnapshotState.SUCCEEDED, False),  # manual: not a scheduled gap
        _run(5, 6, SnapshotState.FAILED, True),
    ]
    learned = learn(runs)
    assert learned.cadence == 6 * 3600
    assert learned.last_good == (4, NOW - timedelta(hours=7) + timedelta(minutes=5))


def test_too_few_scheduled_runs_teach_nothing() -> None:
    runs = [_run(1, 12, SnapshotState.SUCCEEDED, True), _run(2, 6, SnapshotState.FAILED, True)]
    assert learn(runs).cadence is None
    assert learn([]).last_good is None


def test_auto_is_two_and_a_half_gaps_never_under_an_hour_and_silent_without_a_gap() -> None:
    assert limit_of(AUTO, 6 * 3600) == timedelta(hours=15)
    assert limit_of(AUTO, 60) == AUTO_FLOOR
    assert limit_of(AUTO, None) is None
    assert limit_of(StaleSetting(limit_seconds=90), None) == timedelta(seconds=90)
    assert limit_of(StaleSetting(disabled=True), 3600) is None


def _cursor(**values: Any) -> Any:
    base = {
        "backup_id": 456,
        "scheduled": True,
        "runs_checked_at": NOW - timedelta(minutes=5),
        "last_good_at": NOW - timedelta(hours=2),
        "cadence_seconds": 6 * 3600.0,
    }
    return SimpleNamespace(**(base | values))


def _listeners(setting: StaleSetting = AUTO) -> Listeners:
    binding: Any = SimpleNamespace(id=1)
    return Listeners([binding], {}, stale={(1, 456): setting} if setting != AUTO else {})


def test_runs_are_read_only_when_a_check_is_due() -> None:
    tracker = StaleTracker(announcer=Any, batcher=Any, owner=lambda: "w", clock=lambda: NOW)  # type: ignore[arg-type]
    assert not tracker.due(_cursor(), _listeners(), NOW)  # fresh cache, within the limit
    assert tracker.due(_cursor(runs_checked_at=NOW - timedelta(hours=1)), _listeners(), NOW)
    assert tracker.due(_cursor(runs_checked_at=None), _listeners(), NOW)
    assert tracker.due(_cursor(last_good_at=NOW - timedelta(hours=16)), _listeners(), NOW)
    assert tracker.due(_cursor(), _listeners(StaleSetting(limit_seconds=3600)), NOW)
    assert tracker.due(_cursor(), _listeners(StaleSetting(stale_snapshot_id=9)), NOW)
    both_off = StaleSetting(disabled=True, overdue_disabled=True)
    assert not tracker.due(_cursor(runs_checked_at=None), _listeners(both_off), NOW)
    assert not tracker.due(
        _cursor(scheduled=False, runs_checked_at=None),
        _listeners(StaleSetting(overdue_disabled=True)),
        NOW,
    )
    # Overdue checks (on by default) learn durations from the same read, at most hourly ...
    stale_off = _listeners(StaleSetting(disabled=True))
    assert tracker.due(_cursor(runs_checked_at=None), stale_off, NOW)
    assert tracker.due(_cursor(scheduled=False, runs_checked_at=None), _listeners(), NOW)
    # ... and never sooner: a fresh cache with stale checks off reads nothing.
    assert not tracker.due(_cursor(last_good_at=NOW - timedelta(hours=16)), stale_off, NOW)


def _at(snapshot_id: int, start: datetime, state: SnapshotState, minutes: float = 5) -> Snapshot:
    return Snapshot.model_validate(
        {
            "snapshotId": snapshot_id,
            "startTime": start,
            "endTime": start + timedelta(minutes=minutes),
            "state": state,
            "runBySchedule": True,
        }
    )


def test_two_gaps_teach_a_cadence_and_runs_started_together_make_no_gap() -> None:
    ok = SnapshotState.SUCCEEDED
    three = [_at(i, NOW - timedelta(hours=6 * i), ok) for i in (1, 2, 3)]
    assert learn(three).cadence == 6 * 3600
    # Two runs listed at the same start are one start: a zero gap is no gap (one is left).
    twice = [_at(1, NOW, ok), _at(2, NOW, ok), _at(3, NOW - timedelta(hours=6), ok)]
    assert learn(twice).cadence is None
    seconds = [_at(i, NOW - timedelta(seconds=i), ok) for i in (1, 2, 3)]
    assert learn(seconds).cadence == 1.0


def test_the_usual_run_is_the_median_of_three_successes_and_the_last_start_the_latest() -> None:
    ok, failed = SnapshotState.SUCCEEDED, SnapshotState.FAILED
    runs = [
        _at(1, NOW - timedelta(hours=3), ok, minutes=4),
        _at(2, NOW - timedelta(hours=2), failed, minutes=60),  # a failure's length says nothing
        _at(3, NOW - timedelta(hours=1), ok, minutes=6),
    ]
    assert learn(runs).usual_run is None  # two successes teach no usual length
    assert learn(runs).last_start == NOW - timedelta(hours=1)
    runs.append(_at(4, NOW - timedelta(hours=4), ok, minutes=5))
    assert learn(runs).usual_run == 5 * 60
    assert learn(runs).last_start == NOW - timedelta(hours=1)


def test_the_floor_is_one_hour_and_applies_only_below_it() -> None:
    assert limit_of(AUTO, 60) == timedelta(hours=1)
    assert limit_of(AUTO, 3600 / 2.5) == timedelta(hours=1)
    assert limit_of(AUTO, 3600 / 2.5 + 2) == timedelta(hours=1, seconds=5)


def test_a_check_is_due_only_once_the_last_good_is_strictly_past_the_limit() -> None:
    """Past the limit means later than it, as the check itself says stale (see `_one`)."""
    tracker = StaleTracker(announcer=Any, batcher=Any, owner=lambda: "w", clock=lambda: NOW)  # type: ignore[arg-type]
    at_limit = NOW - timedelta(hours=15)  # auto: 2.5 x the 6h cadence
    assert not tracker.due(_cursor(last_good_at=at_limit), _listeners(), NOW)
    past = at_limit - timedelta(seconds=1)
    assert tracker.due(_cursor(last_good_at=past), _listeners(), NOW)
