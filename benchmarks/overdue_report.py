"""What the overdue section counts and prints (driven by `benchmarks.overdue`).

The Skyvia calls are counted per backup by the simulator (`backup_call_counts`), so a backup
with a run going is told apart from an idle one: the first may cost one `GET .../snapshots/active`
per interval, the second at most one per shortest limit (15 minutes with `auto`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from benchmarks.floors import ONE_WIDE_WORKSPACE
from benchmarks.report import Table, verdict
from benchmarks.scrape import Ticks
from benchmarks.watch import RSS_TARGET_MB

LIST_CALLS_TARGET = 1.2
"""Skyvia list calls per backup per interval with every check on (issue 20)."""
ACTIVE_GOING_TARGET = 1.0
"""`/active` calls per backup per interval while a run is believed going: once an interval."""
LONG_RUN = timedelta(hours=2, minutes=10)
NORMAL_RUN = timedelta(minutes=5)
AUTO_LIMIT = timedelta(minutes=15)
"""`auto`'s floor. The seeded runs take a minute or less, so 3 × their median is below it."""
FIXED_LIMITS = (timedelta(hours=1), timedelta(hours=4))
"""The first channels of each workspace set these on every backup (`alerts overdue 456 1h`);
the others keep `auto`. The long runs pass 1 h and `auto`, not 4 h."""
MENTIONS = ("S0ONCALL", "U0DANA")
"""`alerts mention @data-oncall @dana` in every channel."""


@dataclass(frozen=True)
class OverdueSizes:
    workspaces: int = 10
    backups_per_workspace: int = 20
    channels_per_workspace: int = 20
    every: int = 4
    """Backups 0, 4, 8… of a workspace have a run going for 2h 10m (past most limits), backups
    1, 5, 9… one going for 5 minutes (within every limit); the others are idle."""
    history: int = 10
    """Finished runs per backup, 6 hours apart (a quarter fail): the cadence and the usual
    duration the bot learns from them."""
    interval: float = 1.0
    steady_intervals: int = 10
    """Intervals measured after every note (runs still going) and after every end (none)."""
    timeout: float = 90.0
    slack_pace: str = ONE_WIDE_WORKSPACE

    @property
    def backups(self) -> int:
        return self.workspaces * self.backups_per_workspace

    @property
    def channels(self) -> int:
        return self.workspaces * self.channels_per_workspace

    def channel_limit(self, index: int) -> timedelta | None:
        """The overdue limit of a workspace's channel number `index` (None: `auto`)."""
        return FIXED_LIMITS[index] if index < len(FIXED_LIMITS) else None


def told(limits: Sequence[timedelta | None], usual_known: bool, running: timedelta) -> int:
    """How many channels a run going for `running` is told of: a fixed limit it passed, or
    `auto` (None) once the backup's usual duration is known (3 successful runs)."""
    return sum(
        1
        for limit in limits
        if (limit is not None and running >= limit)
        or (limit is None and usual_known and running >= AUTO_LIMIT)
    )


@dataclass(frozen=True)
class Spread:
    """One endpoint's calls over a group of backups, over some intervals."""

    calls: int
    most_calls: int
    """The most calls any one backup of the group had."""
    asked: int
    """Backups of the group called at least once."""
    backups: int
    intervals: float

    @property
    def mean(self) -> float:
        """Calls per backup per interval."""
        if not self.backups or not self.intervals:
            return 0.0
        return self.calls / self.backups / self.intervals

    @property
    def most(self) -> float:
        """The busiest backup's calls per interval."""
        return self.most_calls / self.intervals if self.intervals else 0.0


def per_backup(counts: Mapping[int, int], group: Collection[int], intervals: float) -> Spread:
    """The calls of a group of backups (calls of backups outside it are left out)."""
    mine = [counts.get(backup, 0) for backup in group]
    return Spread(sum(mine), max(mine, default=0), sum(1 for n in mine if n), len(mine), intervals)


@dataclass(frozen=True)
class Window:
    """Skyvia calls and the bot's CPU over one stretch of the run."""

    seconds: float
    lists: Spread
    active_long: Spread
    """`/active` of the backups whose run has gone past the shortest limit."""
    active_normal: Spread
    """`/active` of the backups whose run is going within every limit."""
    active_idle: Spread
    details: int
    bot_cpu: float
    rounds: Ticks
    """The scanner's rounds (`skyvia_bot_worker_tick_seconds`): a round longer than the
    interval lists each backup less than once an interval."""

    @property
    def active_calls(self) -> int:
        return self.active_long.calls + self.active_normal.calls + self.active_idle.calls


@dataclass
class Outcome:
    expected: int
    notes: int
    note_duplicates: int
    ends: int
    end_duplicates: int
    stale: int
    stale_duplicates: int
    notes_s: float
    """From the end of the first scan round until the last note arrived."""
    ends_s: float
    """From the moment the runs ended until the last end arrived."""
    going: Window
    ending: Window
    steady: Window
    rss: float
    own_cpu: float

    @property
    def once(self) -> bool:
        """Every note and every end arrived, none twice."""
        counts = self.notes == self.ends == self.expected
        return counts and self.note_duplicates == self.end_duplicates == 0


def table(sizes: OverdueSizes, out: Outcome) -> Table:
    going, steady = out.going, out.steady
    result = Table(
        title=(
            f"Runs that take unusually long: {sizes.channels:,} channels over {sizes.workspaces} "
            f"workspaces of {sizes.backups_per_workspace} backups, every check on "
            f"(alert interval {sizes.interval:g} s)"
        ),
        columns=["measure", "value", "target"],
    )
    result.rows += [
        [
            "overdue notes delivered (duplicates)",
            f"{out.notes:,}/{out.expected:,} ({out.note_duplicates})",
            "all (0)",
        ],
        [
            "their ends in the notes' threads (duplicates)",
            f"{out.ends:,}/{out.expected:,} ({out.end_duplicates})",
            "all (0)",
        ],
        ["time until every note, s (after the first scan round)", out.notes_s, "-"],
        ["time until every end, s (after the runs ended)", out.ends_s, "-"],
        ["Skyvia list calls per backup per interval, runs going", going.lists.mean, "≤ 1.2"],
        ["Skyvia list calls per backup per interval, none going", steady.lists.mean, "≤ 1.2"],
        [
            "scan round, s, runs going / none going: mean (longest under)",
            f"{_round(going.rounds)} / {_round(steady.rounds)}",
            f"≤ {sizes.interval:g} (one interval)",
        ],
        [
            "/active per backup per interval, run past the shortest limit: mean (most)",
            f"{going.active_long.mean:.2f} ({going.active_long.most:.2f})",
            f"≤ {ACTIVE_GOING_TARGET:g} (one an interval)",
        ],
        [
            "/active calls, run within every limit: backups asked (most of one)",
            _asked(going.active_normal),
            "once, then not before the limit",
        ],
        [
            "/active calls, idle backups: backups asked (most of one)",
            _asked(going.active_idle),
            f"≤ 1 per {AUTO_LIMIT.seconds // 60} min each",
        ],
        ["/active calls in all, none going", steady.active_calls, "0"],
        ["Skyvia details calls for the ends", out.ending.details, "one per run told"],
        ["stale alerts (duplicates)", f"{out.stale} ({out.stale_duplicates})", "- (0)"],
        [
            "bot CPU, s: runs going / ending / none going",
            f"{going.bot_cpu:.1f} / {out.ending.bot_cpu:.1f} / {steady.bot_cpu:.1f}",
            "-",
        ],
        ["bot peak RSS, MiB", out.rss, f"< {RSS_TARGET_MB:g}"],
    ]
    result.notes += _notes(sizes, out)
    result.figures = _figures(sizes, out)
    return result


def _round(rounds: Ticks) -> str:
    return f"{rounds.mean():.2f} ({rounds.longest_at_most():g})"


def _asked(spread: Spread) -> str:
    return f"{spread.asked}/{spread.backups} ({spread.most_calls})"


def _notes(sizes: OverdueSizes, out: Outcome) -> list[str]:
    going, steady = out.going, out.steady
    lists_ok = max(going.lists.mean, steady.lists.mean) <= LIST_CALLS_TARGET
    # One call more than the intervals: a window can begin and end inside a scan round.
    long_ok = going.active_long.most_calls <= going.active_long.intervals + 1
    return [
        f"target every note and its end once: {verdict(out.once)}",
        f"target ≤ {LIST_CALLS_TARGET:g} list calls per backup per interval with every check "
        f"on: {verdict(lists_ok)} (runs going {going.lists.mean:.2f}, most of one backup "
        f"{going.lists.most:.2f}, over {going.seconds:.1f} s; none going {steady.lists.mean:.2f} "
        f"over {steady.seconds:.1f} s); a backup is listed once a scan round (plus its recent "
        "runs once an hour, or every round while it is stale), so a round longer than the "
        "interval lists it less than once an interval",
        "how often /active is asked: a run believed going (seen going, or watched) once its "
        "start plus the shortest limit passed: at most once an interval until it ends "
        f"({verdict(long_ok)}: {going.active_long.calls} calls for "
        f"{going.active_long.backups} runs in {going.active_long.intervals:.1f} intervals); "
        "before that, not at all; a backup whose schedule says a run is due since the shortest "
        "limit: once, then at most once per that limit (15 minutes with `auto`); nothing going "
        f"and nothing due: never ({steady.active_calls} calls in {steady.seconds:.1f} s)",
        f"runs going: {going.active_long.backups} for {_hm(LONG_RUN)} and "
        f"{going.active_normal.backups} for {_hm(NORMAL_RUN)}, from before the bot's first "
        "scan (a check that found none is not repeated before the shortest limit); channel "
        f"limits in each workspace: {_hm(FIXED_LIMITS[0])}, {_hm(FIXED_LIMITS[1])}, the rest "
        f"`auto`; mentions {' '.join(MENTIONS)} in every channel; stale checks `auto`",
        f"bot CPU {going.bot_cpu:.1f} s over the {going.seconds:.1f} s the runs went, "
        f"{out.ending.bot_cpu:.1f} s over {out.ending.seconds:.1f} s ending, "
        f"{steady.bot_cpu:.1f} s over {steady.seconds:.1f} s with none going; doubles+driver "
        f"CPU {out.own_cpu:.1f} s in all",
    ]


def _figures(sizes: OverdueSizes, out: Outcome) -> dict[str, object]:
    going = out.going
    return {
        "backups": sizes.backups,
        "channels": sizes.channels,
        "expected_notes": out.expected,
        "notes": out.notes,
        "ends": out.ends,
        "duplicates": out.note_duplicates + out.end_duplicates,
        "stale_alerts": out.stale,
        "list_calls_per_backup_interval_going": going.lists.mean,
        "list_calls_per_backup_interval_steady": out.steady.lists.mean,
        "active_calls_per_long_run_interval": going.active_long.mean,
        "active_calls_most_long_run": going.active_long.most_calls,
        "active_intervals": going.active_long.intervals,
        "active_calls_most_normal_run": going.active_normal.most_calls,
        "active_calls_most_idle": going.active_idle.most_calls,
        "active_calls_steady": out.steady.active_calls,
        "details_calls_ending": out.ending.details,
        "scan_round_mean_s_going": going.rounds.mean(),
        "scan_round_mean_s_steady": out.steady.rounds.mean(),
        "notes_s": out.notes_s,
        "ends_s": out.ends_s,
        "bot_cpu_s": going.bot_cpu + out.ending.bot_cpu + out.steady.bot_cpu,
        "peak_rss_mb": out.rss,
    }


def _hm(span: timedelta) -> str:
    hours, minutes = divmod(int(span.total_seconds()) // 60, 60)
    return f"{hours}h {minutes}m" if hours and minutes else f"{hours}h" if hours else f"{minutes}m"
