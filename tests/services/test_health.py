"""The order of `health`: the worst backup first, and a stable order within each kind."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.services.health import worst_first
from bot.services.models import BackupHealth, Condition
from bot.skyvia.models import Backup, Snapshot, SnapshotState

T0 = datetime(2024, 5, 10, 12, tzinfo=UTC)


def run(state: SnapshotState, hours_ago: float) -> Snapshot:
    end = T0 - timedelta(hours=hours_ago)
    return Snapshot.model_validate(
        {"snapshotId": int(hours_ago * 10) + 1, "state": state, "endTime": end.isoformat()}
    )


def health(backup_id: int, *runs: Snapshot | None, name: str = "B") -> BackupHealth:
    found = None if runs == (None,) else tuple(r for r in runs if r is not None)
    return BackupHealth(backup=Backup(id=backup_id, name=name), runs=found, muted=False)


OK, FAIL, CANCEL = SnapshotState.SUCCEEDED, SnapshotState.FAILED, SnapshotState.CANCELED


def test_streak_counts_failed_and_canceled_runs_since_the_newest_success() -> None:
    item = health(1, run(FAIL, 1), run(CANCEL, 2), run(OK, 3), run(FAIL, 4))
    assert item.failing_streak == 2
    assert item.last_good == T0 - timedelta(hours=3)
    assert item.condition is Condition.FAILING
    assert health(2, run(OK, 1), run(FAIL, 2)).condition is Condition.HEALTHY
    assert health(3).condition is Condition.NO_RUNS
    assert health(4, None).condition is Condition.UNKNOWN


def test_worst_first_orders_kinds_then_streaks_then_staleness() -> None:
    items = [
        health(10, run(OK, 1)),  # fresh
        health(11, run(OK, 30)),  # stale: before the fresh one
        health(12),  # never ran
        health(13, None),  # unknown
        health(14, run(FAIL, 1), run(OK, 2)),  # failing once
        health(15, run(FAIL, 1), run(FAIL, 2), run(OK, 3)),  # failing twice: the worst
    ]
    assert [i.backup.id for i in worst_first(items)] == [15, 14, 13, 12, 11, 10]


def test_an_open_stale_alert_makes_a_backup_stale_but_a_failing_one_stays_failing() -> None:
    stale = replace(health(20, run(OK, 30)), stale=True)
    failing = replace(health(21, run(FAIL, 1), run(OK, 30)), stale=True)
    assert stale.condition is Condition.STALE
    assert failing.condition is Condition.FAILING
    items = [health(22, None), health(23, run(OK, 40)), stale, failing]
    assert [i.backup.id for i in worst_first(items)] == [21, 20, 22, 23]


def test_ties_are_broken_by_name_then_id_so_the_order_is_stable() -> None:
    items = [health(3, name="b"), health(2, name="a"), health(1, name="b")]
    assert [i.backup.id for i in worst_first(items)] == [2, 1, 3]


def test_failing_since_is_the_start_of_the_oldest_failure_of_the_streak() -> None:
    item = health(1, run(FAIL, 1), run(CANCEL, 2), run(FAIL, 5), run(OK, 6), run(FAIL, 9))
    assert item.failing_since == T0 - timedelta(hours=5)
    assert health(2, run(OK, 1), run(FAIL, 2)).failing_since is None
    assert health(3, None).failing_since is None
