"""Runs that take unusually long, at scale, with every check on: the Skyvia budget.

Many channels listen to many scheduled backups, each channel with mentions, stale checks on
`auto` and an overdue limit on every backup (`1h` or `4h` in the first channels of a workspace,
`auto` in the others). A quarter of the backups have a run going for 2h 10m when the bot starts
(past `auto` and `1h`, not `4h`), a quarter one going for 5 minutes (past none), and the rest
are idle. The runs are there before the bot's first scan: a check that found no run going is
not repeated before the shortest limit (15 minutes with `auto`), since a run that starts later
cannot be overdue sooner, and the benchmark cannot wait 15 minutes.

Measured, with the calls counted per backup by the simulator: while the runs go, list calls per
backup per interval (the budget: ≤ 1.2, docs/reference/guarantees.md#speed-and-scale) and
`GET .../snapshots/active` calls, for the backups with a run going and for the idle ones; every
"⏳ … has been running" note once per run and channel; then every run ends, and each note's
thread gets its end once; then a quiet stretch, nothing going, in which nothing asks `/active`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from benchmarks.overdue_report import (
    LONG_RUN,
    MENTIONS,
    NORMAL_RUN,
    Outcome,
    OverdueSizes,
    Window,
    per_backup,
    table,
    told,
)
from benchmarks.report import Table
from benchmarks.scrape import sampling
from benchmarks.seed import ChannelSettings, bind_channels, tune_channels
from benchmarks.stack import (
    ProfiledProcess,
    bot_process,
    cpu_seconds,
    note_tiers,
    peak_rss_mb,
    private_database,
    running_doubles,
    wait_until,
)
from benchmarks.tally import SlackTally, tallying
from bot.simulator.state import SimulatorState
from bot.skyvia.models import SnapshotState
from storage.models import DeliveryKind

_BACKUP = "GET /workspaces/{workspaceId}/backups/{backupId}"
LIST = _BACKUP + "/snapshots"
ACTIVE = _BACKUP + "/snapshots/active"
DETAILS = _BACKUP + "/snapshots/{snapshotId}"
DUE_BY = timedelta(hours=3)
"""A going run's backup has its history moved this far back: by its 6-hour cadence a scheduled
run is due, which is how the bot comes to ask whether one is going."""
USUAL_AFTER = 3
"""Successful runs before `auto` knows a backup's usual duration."""


@dataclass
class Seeded:
    long: dict[int, int] = field(default_factory=dict)
    """Backup id → its run going for `LONG_RUN`."""
    normal: dict[int, int] = field(default_factory=dict)
    idle: list[int] = field(default_factory=list)
    expected: int = 0
    """Overdue notes owed: each long run in each channel whose limit it passed."""

    @property
    def going(self) -> list[int]:
        return [*self.long, *self.normal]

    @property
    def runs(self) -> list[int]:
        return [*self.long.values(), *self.normal.values()]


def _hold(state: SimulatorState, backup_id: int, since: timedelta) -> int:
    """A scheduled run going for `since` already, until the benchmark ends it."""
    state.age_runs(backup_id, DUE_BY)
    return state.hold_running(state.run_scheduled_now(backup_id).id, since).id


def _usual_known(state: SimulatorState, backup_id: int) -> bool:
    now = state.now()
    runs = [s for s in state.snapshots_of(backup_id) if s.is_finished(now)]
    return sum(s.outcome == SnapshotState.SUCCEEDED for s in runs) >= USUAL_AFTER


async def seed(state: SimulatorState, url: str, sizes: OverdueSizes) -> Seeded:
    """The simulator's backups and runs, and the channels bound (alerts on since now, so the
    history's failures are not alerted) with their mentions and limits."""
    workspaces = state.add_bulk(
        sizes.workspaces,
        sizes.backups_per_workspace,
        scheduled_every=1,
        history=sizes.history,
        name_prefix="Overdue",
    )
    limits = [sizes.channel_limit(c) for c in range(sizes.channels_per_workspace)]
    seeded, bindings, settings = Seeded(), [], []
    for w, workspace in enumerate(workspaces):
        backups = [b.id for b in state.backups_by_workspace[workspace]]
        for c, limit in enumerate(limits):
            channel = f"C0O{w:03d}{c:04d}"
            bindings.append((channel, workspace))
            seconds = None if limit is None else int(limit.total_seconds())
            settings.append(ChannelSettings(channel, MENTIONS, seconds, backups))
        for i, backup in enumerate(backups):
            if i % sizes.every == 0:
                seeded.long[backup] = _hold(state, backup, LONG_RUN)
                seeded.expected += told(limits, _usual_known(state, backup), LONG_RUN)
            elif i % sizes.every == 1:
                seeded.normal[backup] = _hold(state, backup, NORMAL_RUN)
            else:
                seeded.idle.append(backup)
    await bind_channels(url, bindings, alerts=True)
    await tune_channels(url, settings)
    return seeded


async def window(
    state: SimulatorState,
    seeded: Seeded,
    sizes: OverdueSizes,
    bot: ProfiledProcess,
    until: Callable[[], bool],
) -> tuple[Window, float]:
    """Counts Skyvia calls per backup (and scan rounds, from `/metrics`) from now until
    `until()` holds and `steady_intervals` more passed; returns them with the seconds `until()`
    took to hold (NaN: never)."""
    state.reset_call_counts()
    cpu_before, began = cpu_seconds(bot.pid), time.monotonic()
    async with sampling([bot.url]) as sampled:
        reached = await wait_until(until, sizes.timeout)
        reached_s = time.monotonic() - began if reached else float("nan")
        await wait_until(lambda: False, sizes.steady_intervals * sizes.interval)
    seconds = time.monotonic() - began
    intervals = seconds / sizes.interval
    lists, active = state.backup_call_counts(LIST), state.backup_call_counts(ACTIVE)
    calls = Window(
        seconds=seconds,
        lists=per_backup(lists, [*seeded.going, *seeded.idle], intervals),
        active_long=per_backup(active, seeded.long, intervals),
        active_normal=per_backup(active, seeded.normal, intervals),
        active_idle=per_backup(active, seeded.idle, intervals),
        details=sum(state.backup_call_counts(DETAILS).values()),
        bot_cpu=cpu_seconds(bot.pid) - cpu_before,
        rounds=sampled.rounds(),
    )
    return calls, reached_s


async def measure(
    state: SimulatorState,
    tally: SlackTally,
    seeded: Seeded,
    sizes: OverdueSizes,
    bot: ProfiledProcess,
) -> Outcome:
    """Runs going until every note is out; every run ends; then nothing going."""
    own_before = time.process_time()
    # The first round: each backup's failure listing and its first read of recent runs (which
    # teaches the bot the cadence and the usual duration); the notes come from the next.
    await wait_until(
        lambda: sum(state.backup_call_counts(LIST).values()) >= 2 * sizes.backups, sizes.timeout
    )
    going, notes_s = await window(
        state, seeded, sizes, bot, lambda: tally.count(DeliveryKind.OVERDUE) >= seeded.expected
    )
    for run in seeded.runs:
        state.finish_snapshot(run)
    ending, ends_s = await window(
        state, seeded, sizes, bot, lambda: tally.count(DeliveryKind.OVERDUE_END) >= seeded.expected
    )
    steady, _ = await window(state, seeded, sizes, bot, lambda: True)
    return Outcome(
        expected=seeded.expected,
        notes=tally.count(DeliveryKind.OVERDUE),
        note_duplicates=tally.duplicates(DeliveryKind.OVERDUE),
        ends=tally.count(DeliveryKind.OVERDUE_END),
        end_duplicates=tally.duplicates(DeliveryKind.OVERDUE_END),
        stale=tally.count(DeliveryKind.STALE),
        stale_duplicates=tally.duplicates(DeliveryKind.STALE),
        notes_s=notes_s,
        ends_s=ends_s,
        going=going,
        ending=ending,
        steady=steady,
        rss=peak_rss_mb(bot.pid),
        own_cpu=time.process_time() - own_before,
    )


async def run(sizes: OverdueSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    async with running_doubles() as doubles, private_database(database_url) as url:
        state = doubles.sim.state
        seeded = await seed(state, url, sizes)
        bot = bot_process(
            doubles,
            url,
            workdir / "overdue-bot.log",
            alert_interval=sizes.interval,
            slack_pace=sizes.slack_pace,
        )
        async with tallying(doubles.slack) as tally, bot.running():
            if profile:
                bot.attach_profiler(workdir / "overdue-bot.pyspy.txt")
            outcome = await measure(state, tally, seeded, sizes, bot)
    result = table(sizes, outcome)
    note_tiers(result, doubles.slack)
    return result
