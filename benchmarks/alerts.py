"""Alert fan-out: every backup of many workspaces fails once, and many channels listen.

The bot finds the backups of each bound workspace itself (as after `/skyvia connect`), then
scans for failures every interval. The bot promises one `GET .../snapshots` per backup per
interval however many channels listen (docs/reference/guarantees.md#speed-and-scale); the
steady-state window checks that with no failure around, the failure window checks it while
thousands of alerts are going out. Every channel
must then get exactly one alert per failed snapshot; the floor on the time that takes is one
scan interval plus the bot's pace of one post a second per channel (`benchmarks.floors`), times
the alerts each channel gets. The scans write the alerts to the outbox and never wait for Slack,
so a scan round (`skyvia_bot_worker_tick_seconds` in `/metrics`) stays well inside an interval
while the senders drain; the outbox's depth and oldest age are sampled from `/metrics` too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.floors import ONE_WIDE_WORKSPACE, post_floor
from benchmarks.report import Table, verdict
from benchmarks.scrape import Sampled, Ticks, sampling
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
from benchmarks.watch import RSS_TARGET_MB
from bot.devtools.slack_standin import FakeSlack
from bot.skyvia.models import SnapshotState
from storage.models import DeliveryKind

LIST_SNAPSHOTS = "/backups/{backupId}/snapshots"
DETAILS = "/snapshots/{snapshotId}"
DELIVERY_FACTOR = 1.2
LIST_RATIO_TARGET = 0.9
CPU_PER_ALERT_MS = 1.0


@dataclass(frozen=True)
class AlertSizes:
    workspaces: int = 20
    backups_per_workspace: int = 25
    channels_per_workspace: int = 50
    interval: float = 1.0
    steady_intervals: int = 5
    timeout: float = 150.0
    slack_pace: str = ONE_WIDE_WORKSPACE
    """The bot's `SKYVIA_BOT_SLACK_PACE`: one workspace of 1,000 channels (`ONE_WIDE_WORKSPACE`)."""


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
        # The scan that sees the failures, then the busiest channel's (or the team's) posts.
        pacing = sizes.interval + post_floor(
            [sizes.backups_per_workspace], [expected], sizes.slack_pace
        )

        bot = bot_process(
            doubles,
            url,
            workdir / "alerts-bot.log",
            alert_interval=sizes.interval,
            slack_pace=sizes.slack_pace,
        )
        async with tallying(slack) as tally:
            try:
                await bot.start()
                # 1. Steady state, once the bot has listed the backups and scanned each once.
                discovered = await wait_until(
                    lambda: skyvia_calls(state.call_counts())[0] >= backups_total, sizes.timeout / 3
                )
                state.reset_call_counts()
                began = time.monotonic()
                async with sampling([bot.url]) as steady:
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
                async with sampling([bot.url]) as sampled:
                    cpu_before, own_before = cpu_seconds(bot.pid), time.process_time()
                    failed_at = time.monotonic()
                    failed = state.finish_all_running(SnapshotState.FAILED)
                    delivered = await wait_until(
                        lambda: tally.count(DeliveryKind.ALERT) >= expected, sizes.timeout
                    )
                    busy_s = time.monotonic() - failed_at
                    lists, details, other = skyvia_calls(state.call_counts())
                    bot_cpu = cpu_seconds(bot.pid) - cpu_before
                    own_cpu = time.process_time() - own_before
                all_alerts_s = tally.last_post_at - failed_at if tally.last_post_at else math.nan
                slack_calls = len(slack.calls) - slack_before
                rss = peak_rss_mb(bot.pid)
            finally:
                bot.stop()

    return _table(
        sizes,
        Wave(
            expected=expected,
            alerts=tally.count(DeliveryKind.ALERT),
            duplicates=tally.duplicates(),
            delivered=delivered,
            all_alerts_s=all_alerts_s,
            pacing=pacing,
            busy_s=busy_s,
            steady_per_backup=steady_scans / steady_intervals / backups_total,
            busy_per_backup=lists / (busy_s / sizes.interval) / backups_total,
            details=details,
            other=other,
            failed=failed,
            discovered=discovered,
            slack_calls=slack_calls,
            bot_cpu=bot_cpu,
            own_cpu=own_cpu,
            rss=rss,
            sampled=sampled,
            steady_rounds=steady.rounds(),
        ),
        doubles.slack,
    )


@dataclass(frozen=True)
class Wave:
    """What the failure wave measured, for the table."""

    expected: int
    alerts: int
    duplicates: int
    delivered: bool
    all_alerts_s: float
    pacing: float
    busy_s: float
    steady_per_backup: float
    busy_per_backup: float
    details: int
    other: int
    failed: int
    discovered: bool
    slack_calls: int
    bot_cpu: float
    own_cpu: float
    rss: float
    sampled: Sampled
    steady_rounds: Ticks


def _table(sizes: AlertSizes, wave: Wave, slack: FakeSlack) -> Table:
    backups_total = sizes.workspaces * sizes.backups_per_workspace
    channels_total = sizes.workspaces * sizes.channels_per_workspace
    rounds = wave.sampled.rounds()
    cpu_ms = 1000 * wave.bot_cpu / max(1, wave.alerts)
    deadline = DELIVERY_FACTOR * wave.pacing
    on_time = wave.delivered and wave.all_alerts_s <= deadline
    table = Table(
        title=(
            f"Alert fan-out: {channels_total:,} channels over {sizes.workspaces} workspaces of "
            f"{sizes.backups_per_workspace} backups, one failure per backup "
            f"(alert interval {sizes.interval:g} s)"
        ),
        columns=["measure", "value", "target"],
    )
    table.rows += [
        [
            "alerts delivered (duplicates)",
            f"{wave.alerts:,}/{wave.expected:,} ({wave.duplicates})",
            "all (0)",
        ],
        [
            f"time until all alerts delivered, s (pacing floor {wave.pacing:.1f})",
            wave.all_alerts_s,
            f"≤ {deadline:.1f} ({DELIVERY_FACTOR:g} × floor)",
        ],
        [
            "Skyvia list calls per backup per interval, steady",
            wave.steady_per_backup,
            f"≥ {LIST_RATIO_TARGET:g}",
        ],
        [
            "Skyvia list calls per backup per interval, while alerting",
            wave.busy_per_backup,
            f"≥ {LIST_RATIO_TARGET:g}",
        ],
        [
            "scan round, steady, s: mean (longest under)",
            f"{wave.steady_rounds.mean():.3f} ({wave.steady_rounds.longest_at_most():g})",
            f"≤ {sizes.interval:g} (one interval)",
        ],
        [
            "scan round while alerting, s: mean (longest under)",
            f"{rounds.mean():.3f} ({rounds.longest_at_most():g})",
            f"≤ {sizes.interval:g} (one interval)",
        ],
        [
            "outbox while alerting: peak depth (oldest queued, s)",
            f"{wave.sampled.peak_depth:,.0f} ({wave.sampled.peak_oldest_age:.1f})",
            "-",
        ],
        ["Skyvia log (details) calls in total", wave.details, f"{backups_total:,} (one each)"],
        ["Slack calls per alert", wave.slack_calls / max(1, wave.alerts), "1"],
        ["bot CPU per alert, ms", cpu_ms, f"≤ {CPU_PER_ALERT_MS:g}"],
        ["bot peak RSS, MiB", wave.rss, f"< {RSS_TARGET_MB:g}"],
    ]
    steady_ok = wave.steady_per_backup >= LIST_RATIO_TARGET
    busy_ok = wave.busy_per_backup >= LIST_RATIO_TARGET
    table.notes += [
        f"target all {wave.expected:,} alerts within {DELIVERY_FACTOR:g} × the pacing floor: "
        f"{verdict(on_time)} ({wave.all_alerts_s:.1f} s); the floor is one scan interval "
        f"({sizes.interval:g} s) + {sizes.backups_per_workspace} alerts per channel at the "
        "bot's pace (benchmarks/floors.py: one a second per channel, burst 1, by default)",
        f"target ≥ {LIST_RATIO_TARGET:g} list calls per backup per interval (one each, whatever "
        f"the {channels_total:,} channels): {verdict(steady_ok)} steady "
        f"({wave.steady_per_backup:.2f}), {verdict(busy_ok)} while alerting "
        f"({wave.busy_per_backup:.2f})",
        f"target a scan round within one interval (it writes the alerts to the outbox and never "
        f"waits for Slack): {verdict(rounds.count > 0 and rounds.mean() <= sizes.interval)} "
        f"({rounds.count:.0f} rounds while alerting, mean {rounds.mean():.3f} s, every one "
        f"under {rounds.longest_at_most():g} s; from skyvia_bot_worker_tick_seconds)",
        f"target bot CPU ≤ {CPU_PER_ALERT_MS:g} ms per alert: "
        f"{verdict(cpu_ms <= CPU_PER_ALERT_MS)} ({wave.bot_cpu:.1f} s in all); target peak RSS "
        f"< {RSS_TARGET_MB:g} MiB: {verdict(wave.rss < RSS_TARGET_MB)}",
        f"outbox depth and oldest age from /metrics, {wave.sampled.samples} samples over the "
        f"wave (the sender reads them every few seconds)",
        f"{wave.failed:,} snapshots failed; other Skyvia calls while alerting: {wave.other:,}; "
        f"backups listed and scanned before the steady window: {wave.discovered}",
        f"while alerting ({wave.busy_s:.1f} s): bot CPU {wave.bot_cpu:.1f} s, doubles+driver CPU "
        f"{wave.own_cpu:.1f} s",
    ]
    table.figures = {
        "backups": backups_total,
        "channels": channels_total,
        "expected_alerts": wave.expected,
        "alerts": wave.alerts,
        "duplicates": wave.duplicates,
        "steady_list_calls_per_backup_interval": wave.steady_per_backup,
        "busy_list_calls_per_backup_interval": wave.busy_per_backup,
        "log_calls": wave.details,
        "slack_calls_per_alert": wave.slack_calls / max(1, wave.alerts),
        "all_alerts_s": wave.all_alerts_s,
        "pacing_floor_s": wave.pacing,
        "scan_rounds": rounds.count,
        "scan_round_mean_s": rounds.mean(),
        "steady_scan_round_mean_s": wave.steady_rounds.mean(),
        "outbox_peak_depth": wave.sampled.peak_depth,
        "outbox_peak_oldest_age_s": wave.sampled.peak_oldest_age,
        "bot_cpu_ms_per_alert": cpu_ms,
        "peak_rss_mb": wave.rss,
    }
    note_tiers(table, slack)
    return table
