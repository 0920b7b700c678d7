"""The overdue section's own arithmetic: how many notes a long run owes, and calls per backup
per interval over a group of backups (the figures the Skyvia budget is judged by)."""

from __future__ import annotations

from datetime import timedelta

from benchmarks.overdue_report import AUTO_LIMIT, OverdueSizes, per_backup, told

HOUR = timedelta(hours=1)


def test_a_run_is_told_where_it_passed_a_fixed_limit_or_auto_once_learned() -> None:
    limits = [HOUR, 4 * HOUR, None, None]
    assert told(limits, usual_known=True, running=2 * HOUR) == 3  # 1 h and both `auto`
    assert told(limits, usual_known=False, running=2 * HOUR) == 1  # `auto` is silent
    assert told(limits, usual_known=True, running=5 * HOUR) == 4
    assert told(limits, usual_known=True, running=AUTO_LIMIT - timedelta(seconds=1)) == 0
    assert told(limits, usual_known=True, running=AUTO_LIMIT) == 2
    assert told([], usual_known=True, running=5 * HOUR) == 0


def test_the_first_channels_have_fixed_limits_and_the_rest_auto() -> None:
    sizes = OverdueSizes(channels_per_workspace=4)
    assert [sizes.channel_limit(c) for c in range(4)] == [HOUR, 4 * HOUR, None, None]
    limits = [sizes.channel_limit(c) for c in range(4)]
    assert told(limits, usual_known=True, running=timedelta(hours=2, minutes=10)) == 3


def test_calls_per_backup_per_interval_count_only_the_group() -> None:
    counts = {1: 10, 2: 5, 3: 0, 99: 1000}  # 99 is not in the group
    spread = per_backup(counts, [1, 2, 3, 4], intervals=5.0)
    assert spread.calls == 15 and spread.backups == 4
    assert spread.mean == 15 / 4 / 5
    assert spread.most_calls == 10 and spread.most == 2.0
    assert spread.asked == 2  # 3 and 4 were never called


def test_an_empty_group_or_window_is_zero_not_an_error() -> None:
    assert per_backup({1: 3}, [], intervals=5.0).mean == 0.0
    empty = per_backup({1: 3}, [1], intervals=0.0)
    assert empty.mean == empty.most == 0.0 and empty.asked == 1
