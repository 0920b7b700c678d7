"""Alert fan-out: every backup of many workspaces fails once, and many channels listen.

The bot finds the backups of each bound workspace itself (as after `/skyvia connect`), then
scans for failures every interval. The bot promises one `GET .../snapshots` per backup per
interval however many channels listen (docs/reference/guarantees.md#speed-and-scale); the
steady-state window checks that with no failure around, the failure window checks it while
thousands of alerts are going out. Every channel
must then get exactly one alert per failed snapshot; the floor on the time that takes is
Slack's pace of ~1 message/s per channel, times the alerts each channel gets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Table, verdict
from benchmarks.seed import seed_fan_out
from benchmarks.stack import (
    bot_process,
    cpu_seconds,
    note_tiers,
    peak_rss_mb,
    private_database,
    running_doubles,
    wait_until,
)
from benchmarks.tally import tallying
from benchmarks.watch import RSS_TARGET_MB, SLACK_PACE_SECONDS
from bot.skyvia.models import SnapshotState
from storage.models import DeliveryKind

LIST_SNAPSHOTS = "/backups/{backupId}/snapshots"
DETAILS = "/snapshots/{snapshotId}"


@dataclass(frozen=True)
class AlertSizes:
    workspaces: int = 20
    backups_per_workspace: int = 25
    channels_per_workspace: int = 50
    interval: float = 1.0
    steady_intervals: int = 5
    timeout: float = 150.0


def skyvia_calls(counts: dict[str, int]) -> tuple[int, int, int]:
    """(failure scans: list snapshots, details, everything else) from the simulator."""
    lists = sum(n for name, n in counts.items() if name.endswith(LIST_SNAPSHOTS))
    details = sum(n for name, n in counts.items() if name.endswith(DETAILS))
    return lists, details, sum(counts.values()) - lists - details


async def run(sizes: AlertSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    backups_total = sizes.workspaces * sizes.backups_per_workspace
    channels_total = sizes.workspaces * sizes.channels_per_workspace
    expected = channels_total * sizes.backups_per_workspace
    async with running_doubles() as doubles, private_database(database_url) as url:
        state, slack = doubles.sim.state, doubles.slack
        backups = await seed_fan_out(
            state,
            url,
            workspaces=sizes.workspaces,
            backups_per_workspace=sizes.backups_per_workspace,
            channels_per_workspace=sizes.channels_per_workspace,
            prefix="C0A",
        )
        pacing = sizes.backups_per_workspace * SLACK_PACE_SECONDS

        bot = bot_process(doubles, url, workdir / "alerts-bot.log", alert_interval=sizes.interval)
        async with tallying(slack) as tally:
            try:
                await bot.start()
                # 1. Steady state, once the bot has listed the backups and scanned each once.
                discovered = await wait_until(
                    lambda: skyvia_calls(state.call_counts())[0] >= backups_total, sizes.timeout / 3
                )
                state.reset_call_counts()
                began = time.monotonic()
                await wait_until(lambda: False, sizes.steady_intervals * sizes.interval)
                steady_scans = skyvia_calls(state.call_counts())[0]
                steady_intervals = (time.monotonic() - began) / sizes.interval

                # 2. One failure per backup, all at once.
                for backup_id in backups:
                    state.run_scheduled_now(backup_id, fail=True)
                state.reset_call_counts()
                tally.reset()
                slack_before = len(slack.calls)
                if profile:  # the measured phase only, not discovery and the steady window
                    bot.attach_profiler(workdir / "alerts-bot.pyspy.txt")
                cpu_before, own_before = cpu_seconds(bot.pid), time.process_time()
                failed_at = time.monotonic()
                failed = state.finish_all_running(SnapshotState.FAILED)
                delivered = await wait_until(
                    lambda: tally.count(DeliveryKind.ALERT) >= expected, sizes.timeout
                )
                all_alerts_s = tally.last_post_at - failed_at if tally.last_post_at else math.nan
                busy_s = time.monotonic() - failed_at
                lists, details, other = skyvia_calls(state.call_counts())
                bot_cpu = cpu_seconds(bot.pid) - cpu_before
                own_cpu = time.process_time() - own_before
                slack_calls = len(slack.calls) - slack_before
                rss = peak_rss_mb(bot.pid)
            finally:
                bot.stop()

    alerts = tally.count(DeliveryKind.ALERT)
    steady_per_scan = steady_scans / steady_intervals
    busy_per_scan = lists / (busy_s / sizes.interval)
    table = Table(
        title=(
            f"Alert fan-out: {channels_total:,} channels over {sizes.workspaces} workspaces of "
            f"{sizes.backups_per_workspace} backups, one failure per backup "
            f"(alert interval {sizes.interval:g} s)"
        ),
        columns=["measure", "value", "target"],
    )
    table.rows += [
        ["Skyvia list calls per scan interval, steady", steady_per_scan, f"{backups_total:,}"],
        [
            "Skyvia list calls per scan interval, while alerting",
            busy_per_scan,
            f"≤ {backups_total:,}",
        ],
        ["Skyvia log (details) calls in total", details, f"{backups_total:,} (one per failure)"],
        [
            "alerts delivered (duplicates)",
            f"{alerts:,}/{expected:,} ({tally.duplicates()})",
            "all (0)",
        ],
        ["Slack calls per alert", slack_calls / max(1, alerts), "1"],
        ["time until all alerts delivered, s", all_alerts_s, f"pacing floor {pacing:g}"],
        ["bot peak RSS, MiB", rss, f"< {RSS_TARGET_MB:g}"],
        ["bot CPU while alerting, s", bot_cpu, "-"],
    ]
    table.notes += [
        f"target one list call per backup per scan ({backups_total:,}, independent of the "
        f"{channels_total:,} channels): "
        f"{verdict(abs(steady_per_scan - backups_total) <= 0.1 * backups_total)} in steady "
        f"state ({steady_per_scan:,.0f}); {busy_per_scan:,.0f} per interval while alerting",
        f"all {expected:,} alerts: {verdict(delivered)} in {all_alerts_s:.1f} s; the floor is "
        f"{sizes.backups_per_workspace} alerts per channel at ~1/s = {pacing:g} s",
        f"{failed:,} snapshots failed; other Skyvia calls while alerting: {other:,}; backups "
        f"listed and scanned before the steady window: {discovered}",
        f"while alerting ({busy_s:.1f} s): bot CPU {bot_cpu:.1f} s, doubles+driver CPU "
        f"{own_cpu:.1f} s",
    ]
    table.figures = {
        "backups": backups_total,
        "channels": channels_total,
        "expected_alerts": expected,
        "alerts": alerts,
        "duplicates": tally.duplicates(),
        "steady_list_calls_per_interval": steady_per_scan,
        "busy_list_calls_per_interval": busy_per_scan,
        "log_calls": details,
        "slack_calls_per_alert": slack_calls / max(1, alerts),
        "all_alerts_s": all_alerts_s,
        "pacing_floor_s": pacing,
        "peak_rss_mb": rss,
    }
    note_tiers(table, doubles.slack)
    return table
