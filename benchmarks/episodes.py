"""Failure episodes at fan-out scale: every backup fails 3 times in a row, then succeeds once.

The alert section's setup (many workspaces, every channel of a workspace listening), then
failure episodes (docs/reference/messages.md#failure-episodes): the first failure of each backup
is a top-level alert in every channel; each further one a reply in that alert's thread plus an
edit (`chat.update`) of the alert's first line to the streak; the success a "Recovered" reply
plus an edit of the header to "recovered". Each step is one wave over all backups at once, and
the next wave starts when every message of the last one arrived (a backup's runs are hours
apart in life, not seconds).

What must hold at this size: every message once (counted in the stand-in by the delivery key
in its metadata; a header edit by its channel, message and text), one post (and one edit) per
event per channel, and the scan's cost still following the backups, not the channels or the
episodes (docs/reference/guarantees.md#speed-and-scale): an open episode makes the scan list
every state instead of failures only, with no extra call.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

from benchmarks.alerts import skyvia_calls
from benchmarks.episodes_report import EpisodeSizes, Phase, Wave, count, expected, reached, table
from benchmarks.report import Table
from benchmarks.seed import seed_fan_out
from benchmarks.stack import (
    Doubles,
    bot_process,
    cpu_seconds,
    note_tiers,
    peak_rss_mb,
    private_database,
    running_doubles,
    wait_until,
)
from benchmarks.tally import SlackTally, tallying
from bot.skyvia.models import SnapshotState


async def wave(
    doubles: Doubles,
    tally: SlackTally,
    backups: list[int],
    *,
    name: str,
    fail: bool,
    want: dict[str, int],
    timeout: float,
) -> Wave:
    """Every backup runs once and ends at once (failed or succeeded); waits for `want`."""
    state, slack = doubles.sim.state, doubles.slack
    for backup_id in backups:
        state.run_scheduled_now(backup_id, fail=fail)
    calls_before = len(slack.calls)
    ended_at = time.monotonic()
    state.finish_all_running(SnapshotState.FAILED if fail else SnapshotState.SUCCEEDED)
    delivered = await wait_until(lambda: reached(tally, want), timeout)
    last = max(tally.last_post_at, tally.last_edit_at)
    methods = Counter(call.method for call in slack.calls[calls_before:])
    return Wave(name, delivered, last - ended_at if last > ended_at else math.nan, methods)


async def episodes(
    doubles: Doubles, tally: SlackTally, backups: list[int], sizes: EpisodeSizes, pid: int
) -> Phase:
    """The failure waves and the success wave, then a few quiet scans for late duplicates."""
    state = doubles.sim.state
    state.reset_call_counts()
    tally.reset()
    cpu_before, own_before = cpu_seconds(pid), time.process_time()
    began = time.monotonic()
    waves: list[Wave] = []
    for failure in range(1, sizes.failures + 1):
        want = expected(sizes, failure, recovered=False)
        waves.append(
            await wave(
                doubles,
                tally,
                backups,
                name=f"failure {failure}",
                fail=True,
                want=want,
                timeout=sizes.timeout,
            )
        )
    # Every episode open, nothing left to say: each scan lists every state, for the success.
    # The window opens once a whole round of scans began after the wave: the round that
    # delivered the wave may still be ending (it waits for the channels' pace).
    after_wave = skyvia_calls(state.call_counts())[0]
    await wait_until(
        lambda: skyvia_calls(state.call_counts())[0] - after_wave >= sizes.backups, sizes.timeout
    )
    open_before, open_began = skyvia_calls(state.call_counts())[0], time.monotonic()
    await wait_until(lambda: False, sizes.steady_intervals * sizes.interval)
    # At least two whole rounds: at full size a round takes longer than the intervals above,
    # and a window that ends between two rounds would count no list call at all.
    await wait_until(
        lambda: skyvia_calls(state.call_counts())[0] - open_before >= 2 * sizes.backups,
        sizes.timeout,
    )
    open_lists = skyvia_calls(state.call_counts())[0] - open_before
    open_seconds = time.monotonic() - open_began
    want = expected(sizes, sizes.failures, recovered=True)
    waves.append(
        await wave(
            doubles, tally, backups, name="success", fail=False, want=want, timeout=sizes.timeout
        )
    )
    await wait_until(lambda: False, sizes.settle_intervals * sizes.interval)
    lists, details, other = skyvia_calls(state.call_counts())
    return Phase(
        waves=waves,
        counts=count(tally),
        lists=lists,
        details=details,
        open_lists=open_lists,
        open_seconds=open_seconds,
        other_skyvia=other,
        seconds=time.monotonic() - began,
        bot_cpu=cpu_seconds(pid) - cpu_before,
        own_cpu=time.process_time() - own_before,
        rss=peak_rss_mb(pid),
    )


async def run(sizes: EpisodeSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    async with running_doubles() as doubles, private_database(database_url) as url:
        state = doubles.sim.state
        backups = await seed_fan_out(
            state,
            url,
            workspaces=sizes.workspaces,
            backups_per_workspace=sizes.backups_per_workspace,
            channels_per_workspace=sizes.channels_per_workspace,
            prefix="C0E",
        )
        bot = bot_process(
            doubles,
            url,
            workdir / "episodes-bot.log",
            alert_interval=sizes.interval,
            slack_pace=sizes.slack_pace,
        )
        async with tallying(doubles.slack) as tally, bot.running():
            # Once the bot has listed the backups and scanned each once.
            await wait_until(
                lambda: skyvia_calls(state.call_counts())[0] >= sizes.backups, sizes.timeout / 3
            )
            if profile:
                bot.attach_profiler(workdir / "episodes-bot.pyspy.txt")
            phase = await episodes(doubles, tally, backups, sizes, bot.pid)
    result = table(sizes, phase)
    note_tiers(result, doubles.slack)
    return result
