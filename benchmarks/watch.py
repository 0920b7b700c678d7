"""Watcher scale: thousands of watched snapshots that all finish at the same moment.

Set-up: bulk backups in the simulator, one long running snapshot on each, a lifecycle card for
each in the Slack stand-in, and one watch row per snapshot in the bot's database, spread evenly
over channels (so each channel's ~1 message/s pace is part of the picture). Then:

1. steady state: every snapshot runs; Skyvia calls per watch per interval show the polling
   cost (1.0 = each watch polled once per interval; below 1 the watcher is falling behind);
2. all snapshots finish at once: the time until the last thread reply reaches Slack, and the
   Skyvia and Slack calls that took, per watch.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.floors import ONE_WIDE_WORKSPACE
from benchmarks.report import Table, verdict
from benchmarks.seed import ADMIN_USER, WatchSeed, add_watches, bind_channels
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
from bot.pace_config import UPDATE, PaceConfig
from bot.simulator.runs import NEW_SECONDS, QUEUED_SECONDS
from bot.skyvia.models import SnapshotState
from storage.models import DeliveryKind

GET_SNAPSHOT = "/snapshots/{snapshotId}"
CALLS_PER_POLL_TARGET = 1.2
RSS_TARGET_MB = 200.0
SLACK_PACE_SECONDS = 1.0


@dataclass(frozen=True)
class WatchSizes:
    watches: int = 5000
    channels: int = 500
    workspaces: int = 10
    interval: float = 1.0
    steady_intervals: int = 5
    timeout: float = 120.0
    slack_pace: str = f"{ONE_WIDE_WORKSPACE},chat.update=1000/1+1000"
    """The bot's `SKYVIA_BOT_SLACK_PACE`. Card edits fast: at Slack's Tier 3 (~50 a minute per
    team) 5,000 final card edits in one team take 100 minutes; replies never wait for them, and
    the `tiers` section measures edits at Slack's pace. Empty: Slack's documented tiers."""

    def card_floor(self) -> float:
        """Seconds the final card edits take at least: one per watch, one team's
        `chat.update` bucket (Tier 3, ~50 a minute)."""
        rate = PaceConfig.parse(self.slack_pace).rates.get(UPDATE)
        if rate is None:
            return 0.0
        return max(0.0, self.watches - rate.burst) / rate.per_second


def _skyvia(counts: dict[str, int]) -> tuple[int, int]:
    """(GET snapshot details calls, all other calls) from the simulator's counters."""
    details = sum(n for name, n in counts.items() if name.endswith(GET_SNAPSHOT))
    return details, sum(counts.values()) - details


async def run(sizes: WatchSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    async with running_doubles() as doubles, private_database(database_url) as url:
        state, slack = doubles.sim.state, doubles.slack
        channels = [f"C0W{i:05d}" for i in range(sizes.channels)]
        per_workspace = Counter(i % sizes.channels % sizes.workspaces for i in range(sizes.watches))
        workspaces = state.add_bulk(
            sizes.workspaces, max(per_workspace.values()), scheduled_every=0
        )
        free = {w: list(state.backups_by_workspace[w]) for w in workspaces}
        seeds = []
        for i in range(sizes.watches):
            channel_index = i % sizes.channels
            workspace = workspaces[channel_index % sizes.workspaces]
            backup = free[workspace].pop()
            backup.run_seconds = 10 * 86400.0  # runs until the benchmark finishes it
            snapshot = state.start_snapshot(backup.id)
            card = slack.seed_message(channels[channel_index], f"Snapshot {snapshot.id} running")
            seeds.append(
                WatchSeed(
                    channel_id=channels[channel_index],
                    message_ts=card.ts,
                    workspace_id=workspace,
                    backup_id=backup.id,
                    backup_name=backup.name or "",
                    snapshot_id=snapshot.id,
                    started_by=ADMIN_USER,
                )
            )
        state.advance(NEW_SECONDS + QUEUED_SECONDS + 1)  # all Running, as the watches say
        await bind_channels(
            url,
            [(c, workspaces[i % sizes.workspaces]) for i, c in enumerate(channels)],
            alerts=False,  # only the watcher works here; the alert section covers the scanner
        )
        await add_watches(url, seeds, last_state="Running", next_poll_at=datetime.now(UTC))
        pacing = max(Counter(s.channel_id for s in seeds).values()) * SLACK_PACE_SECONDS
        deadline = 2 * sizes.interval + pacing

        bot = bot_process(
            doubles,
            url,
            workdir / "watch-bot.log",
            watch_interval=sizes.interval,
            slack_pace=sizes.slack_pace,
        )
        async with tallying(slack) as tally:
            try:
                await bot.start()
                # 1. Steady state, after the first round of polls.
                first_round = await wait_until(
                    lambda: _skyvia(state.call_counts())[0] >= sizes.watches, sizes.timeout / 2
                )
                state.reset_call_counts()
                slack_at_steady = len(slack.calls)
                began = time.monotonic()
                await wait_until(lambda: False, sizes.steady_intervals * sizes.interval)
                steady_s = time.monotonic() - began
                steady_details, steady_other = _skyvia(state.call_counts())
                polls_due = sizes.watches * steady_s / sizes.interval
                steady_slack = len(slack.calls) - slack_at_steady

                # 2. Everything finishes at once.
                state.reset_call_counts()
                tally.reset()
                slack_before = len(slack.calls)
                if profile:  # the measured phase only, not start-up and the first round
                    bot.attach_profiler(workdir / "watch-bot.pyspy.txt")
                cpu_before, own_before = cpu_seconds(bot.pid), time.process_time()
                finished_at = time.monotonic()
                finished = state.finish_all_running(SnapshotState.SUCCEEDED)
                replied = await wait_until(
                    lambda: tally.count(DeliveryKind.THREAD_REPLY) >= sizes.watches,
                    sizes.timeout,
                )
                last_reply_s = tally.last_post_at - finished_at if tally.last_post_at else math.nan
                # Edits go after replies (a channel's reply first), then at the team's pace.
                card_deadline = max(deadline, 1.3 * sizes.card_floor()) + 2 * sizes.interval
                cards_done = await wait_until(
                    lambda: tally.updates >= sizes.watches, card_deadline + 5 * sizes.interval
                )
                cards_s = time.monotonic() - finished_at
                wall = time.monotonic() - finished_at
                bot_cpu = cpu_seconds(bot.pid) - cpu_before
                own_cpu = time.process_time() - own_before
                details, other = _skyvia(state.call_counts())
                slack_calls = len(slack.calls) - slack_before
                rss = peak_rss_mb(bot.pid)
            finally:
                bot.stop()

    replies = tally.count(DeliveryKind.THREAD_REPLY)
    w = sizes.watches
    table = Table(
        title=(
            f"Watcher scale: {w:,} watched snapshots over {sizes.channels:,} channels finish "
            f"at once (watch interval {sizes.interval:g} s)"
        ),
        columns=["measure", "value", "target"],
    )
    steady_ratio = (steady_details + steady_other) / polls_due
    table.rows += [
        ["steady state: Skyvia calls per watch per interval", steady_ratio, "1.0 (≤ 1.2)"],
        [
            "after finish: Skyvia calls per watch",
            (details + other) / w,
            f"≤ {CALLS_PER_POLL_TARGET}",
        ],
        ["after finish: Slack calls per watch", slack_calls / w, "2 (reply + card)"],
        ["thread replies (duplicates)", f"{replies:,}/{w:,} ({tally.duplicates()})", "all (0)"],
        ["time until the last thread reply, s", last_reply_s, f"≤ {deadline:g}"],
        [
            "time until every card shows its end, s (chat.update floor)",
            f"{cards_s:.1f} ({sizes.card_floor():.0f})",
            f"≤ {card_deadline:.0f}",
        ],
        ["bot peak RSS, MiB", rss, f"< {RSS_TARGET_MB:g}"],
        ["bot CPU after finish, s", bot_cpu, "-"],
    ]
    table.notes += [
        f"target calls ≤ {CALLS_PER_POLL_TARGET} per poll: "
        f"{verdict((details + other) / w <= CALLS_PER_POLL_TARGET)} after finish; steady state "
        f"{steady_ratio:.2f} per watch per interval "
        + (
            "(below 1: the watcher polls each watch less often than every interval)"
            if steady_ratio < 0.95
            else ""
        ),
        f"target all replies within 2 intervals + pacing ({2 * sizes.interval:g} s + "
        f"{pacing:g} s: {pacing / SLACK_PACE_SECONDS:g} replies per channel at ~1/s): "
        f"{verdict(replied and last_reply_s <= deadline)} ({last_reply_s:.1f} s)",
        f"target every card final within the replies' deadline or 1.3 × the chat.update floor, "
        f"+ 2 intervals: "
        f"{verdict(cards_done and cards_s <= card_deadline)} (edits are paced at the team's "
        "Tier 3 rate; replies never wait for them)",
        f"target peak RSS < {RSS_TARGET_MB:g} MiB: {verdict(rss < RSS_TARGET_MB)}",
        f"{finished:,} snapshots finished; card updates seen {tally.updates:,}; "
        f"first poll round complete before the steady window: {first_round}; "
        f"Slack calls in the steady window: {steady_slack}",
        f"after finish ({wall:.1f} s): bot CPU {bot_cpu:.1f} s, doubles+driver CPU {own_cpu:.1f} s",
    ]
    table.figures = {
        "watches": w,
        "replies": replies,
        "duplicates": tally.duplicates(),
        "card_updates": tally.updates,
        "steady_calls_per_watch_interval": steady_ratio,
        "skyvia_calls_per_watch": (details + other) / w,
        "slack_calls_per_watch": slack_calls / w,
        "last_reply_s": last_reply_s,
        "cards_s": cards_s,
        "card_deadline_s": card_deadline,
        "deadline_s": deadline,
        "peak_rss_mb": rss,
    }
    note_tiers(table, doubles.slack)
    return table
