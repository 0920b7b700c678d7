"""What the failure-episode section counts and prints (driven by `benchmarks.episodes`).

Posts are counted by the delivery key in their metadata (channel, snapshot, kind); a header
edit keeps the alert's metadata, so it is counted by its channel, message and text: each of a
header's edits (streak 2, streak 3, recovered) has its own text, and the same edit made twice
is a duplicate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from benchmarks.floors import ONE_WIDE_WORKSPACE
from benchmarks.report import Table, verdict
from benchmarks.tally import SlackTally
from benchmarks.watch import RSS_TARGET_MB, SLACK_PACE_SECONDS
from storage.models import DeliveryKind

LIST_CALLS_TARGET = 1.2
"""Skyvia list calls per backup per scan interval while episodes are open (issue 12)."""
POSTED = (DeliveryKind.ALERT, DeliveryKind.EPISODE_REPLY, DeliveryKind.RECOVERED)
EDITED = (DeliveryKind.EPISODE_HEADER, DeliveryKind.RECOVERED_HEADER)
KINDS = POSTED + EDITED
LABELS = {
    DeliveryKind.ALERT: "top-level alerts",
    DeliveryKind.EPISODE_REPLY: "episode replies",
    DeliveryKind.EPISODE_HEADER: "header edits to the streak",
    DeliveryKind.RECOVERED: "recovered replies",
    DeliveryKind.RECOVERED_HEADER: "header edits to recovered",
}


@dataclass(frozen=True)
class EpisodeSizes:
    workspaces: int = 20
    backups_per_workspace: int = 25
    channels_per_workspace: int = 50
    interval: float = 1.0
    failures: int = 3
    steady_intervals: int = 5
    """Scans with every episode open and nothing to say, before the success wave."""
    settle_intervals: int = 5
    """Scans after the last message, in which a late duplicate would show."""
    timeout: float = 300.0
    """Per wave: a wave of 25,000 replies and edits took ~150 s on a busy 2-core machine."""
    slack_pace: str = f"{ONE_WIDE_WORKSPACE},chat.update=1000/1+1000"
    """The bot's `SKYVIA_BOT_SLACK_PACE`. Header edits fast: at Slack's Tier 3 (~50 a minute per
    team) a wave's 25,000 edits in one team would take over 8 hours; this section measures the
    bot, and the `tiers` section measures edits at Slack's pace."""

    @property
    def backups(self) -> int:
        return self.workspaces * self.backups_per_workspace

    @property
    def per_event(self) -> int:
        """Messages one wave owes: every backup's event in every channel of its workspace."""
        return self.workspaces * self.channels_per_workspace * self.backups_per_workspace


def expected(sizes: EpisodeSizes, failures: int, recovered: bool) -> dict[str, int]:
    """What the stand-in must hold after `failures` failure waves (and the success wave)."""
    n = sizes.per_event
    return {
        DeliveryKind.ALERT: n if failures else 0,
        DeliveryKind.EPISODE_REPLY: n * max(0, failures - 1),
        DeliveryKind.EPISODE_HEADER: n * max(0, failures - 1),
        DeliveryKind.RECOVERED: n if recovered else 0,
        DeliveryKind.RECOVERED_HEADER: n if recovered else 0,
    }


def header_kind(text: str) -> str | None:
    """Which header edit a `chat.update` made, from its text (`bot.slack.messages.episodes`)."""
    if " recovered after " in text:
        return DeliveryKind.RECOVERED_HEADER
    if " is failing — " in text:
        return DeliveryKind.EPISODE_HEADER
    return None


@dataclass(frozen=True)
class Counts:
    """Distinct messages (and edits) per kind, their extra copies, and anything unexpected."""

    delivered: dict[str, int]
    duplicates: dict[str, int]
    unexpected: int


def count(tally: SlackTally) -> Counts:
    delivered: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    unexpected = 0
    for (_, _, kind), n in tally.posted.items():
        if kind in POSTED:
            delivered[kind] += 1
            duplicates[kind] += n - 1
        else:
            unexpected += n
    for (_, _, text), n in tally.edits.items():
        edited = header_kind(text)
        if edited is None:
            unexpected += n
        else:
            delivered[edited] += 1
            duplicates[edited] += n - 1
    return Counts({k: delivered[k] for k in KINDS}, {k: duplicates[k] for k in KINDS}, unexpected)


def reached(tally: SlackTally, want: dict[str, int]) -> bool:
    """Whether the stand-in holds `want`: from the tally's running counts, since it is polled
    every 50 ms (`count` walks every key and is for the end). Edits are told apart by kind
    only in `count`: here any distinct edit counts, enough to know they all arrived."""
    edits = sum(want[kind] for kind in EDITED)
    return tally.distinct_edits() >= edits and all(tally.count(k) >= want[k] for k in POSTED)


@dataclass
class Wave:
    name: str
    delivered: bool
    seconds: float
    """From the runs' end until the wave's last message or edit reached the stand-in."""
    slack_calls: Counter[str] = field(default_factory=Counter)
    """Web API calls by method during the wave."""


@dataclass
class Phase:
    waves: list[Wave]
    counts: Counts
    lists: int
    details: int
    open_lists: int
    """List calls in the steady window with every episode open."""
    open_seconds: float
    other_skyvia: int
    seconds: float
    bot_cpu: float
    own_cpu: float
    rss: float


def table(sizes: EpisodeSizes, phase: Phase) -> Table:
    channels = sizes.workspaces * sizes.channels_per_workspace
    result = Table(
        title=(
            f"Failure episodes: {channels:,} channels over {sizes.workspaces} workspaces of "
            f"{sizes.backups_per_workspace} backups, each backup failing {sizes.failures} times "
            f"then succeeding (alert interval {sizes.interval:g} s)"
        ),
        columns=["measure", "value", "target"],
    )
    result.rows += message_rows(sizes, phase.counts)
    result.rows += call_rows(sizes, phase)
    result.notes += notes(sizes, phase)
    result.figures = figures(sizes, phase)
    return result


def message_rows(sizes: EpisodeSizes, counts: Counts) -> list[list[object]]:
    want = expected(sizes, sizes.failures, recovered=True)
    rows: list[list[object]] = [
        [
            f"{LABELS[kind]} delivered (duplicates)",
            f"{counts.delivered[kind]:,}/{want[kind]:,} ({counts.duplicates[kind]})",
            "all (0)",
        ]
        for kind in KINDS
    ]
    rows.append(["other messages and edits", counts.unexpected, "0"])
    return rows


def per_channel(w: Wave, n: int) -> str:
    """Slack calls per event per channel: posts + edits (+ anything else, such as read-backs)."""
    posts, edits = w.slack_calls["chat.postMessage"], w.slack_calls["chat.update"]
    other = sum(w.slack_calls.values()) - posts - edits
    text = f"{posts / n:.2f} + {edits / n:.2f}"
    return text + (f" + {other / n:.2f} other" if other else "")


def list_rate(sizes: EpisodeSizes, phase: Phase) -> float:
    """Skyvia list calls per backup per scan interval over the whole phase."""
    return phase.lists / sizes.backups / (phase.seconds / sizes.interval)


def open_rate(sizes: EpisodeSizes, phase: Phase) -> float:
    """The same in the steady window with every episode open (waiting for its success)."""
    return phase.open_lists / sizes.backups / (phase.open_seconds / sizes.interval)


def call_rows(sizes: EpisodeSizes, phase: Phase) -> list[list[object]]:
    n = sizes.per_event
    rows: list[list[object]] = [
        [
            f"Slack calls per channel, {w.name} (postMessage + update)",
            per_channel(w, n),
            "1 + 0" if i == 0 else "1 + 1",
        ]
        for i, w in enumerate(phase.waves)
    ]
    rows += [
        [
            "Skyvia list calls per backup per scan interval, whole phase",
            f"{list_rate(sizes, phase):.2f}",
            f"≤ {LIST_CALLS_TARGET:g}",
        ],
        [
            "Skyvia list calls per backup per scan interval, steady, episodes open",
            f"{open_rate(sizes, phase):.2f}",
            f"≤ {LIST_CALLS_TARGET:g}",
        ],
        [
            "Skyvia log (details) calls in total",
            phase.details,
            f"{sizes.backups * sizes.failures:,} (one per failure)",
        ],
    ]
    floor = sizes.backups_per_workspace * SLACK_PACE_SECONDS
    rows += [
        [f"time until all delivered, {w.name}, s", w.seconds, f"pacing floor {floor:g}"]
        for w in phase.waves
    ]
    rows += [
        ["bot peak RSS, MiB", phase.rss, f"< {RSS_TARGET_MB:g}"],
        ["bot CPU during the episodes, s", phase.bot_cpu, "-"],
    ]
    return rows


def notes(sizes: EpisodeSizes, phase: Phase) -> list[str]:
    want = expected(sizes, sizes.failures, recovered=True)
    counts = phase.counts
    complete = all(counts.delivered[k] == want[k] for k in KINDS)
    duplicates = sum(counts.duplicates.values())
    rate, steady = list_rate(sizes, phase), open_rate(sizes, phase)
    return [
        f"target every message once ({sum(want.values()):,} posts and edits): "
        f"{verdict(complete and duplicates == 0 and counts.unexpected == 0)} "
        f"({duplicates} duplicates, {counts.unexpected} unexpected)",
        f"target ≤ {LIST_CALLS_TARGET:g} list calls per backup per interval while episodes are "
        f"open: {verdict(max(rate, steady) <= LIST_CALLS_TARGET)} (whole phase {rate:.2f}: "
        f"{phase.lists:,} calls for {sizes.backups:,} backups in {phase.seconds:.1f} s; steady "
        f"with every episode open {steady:.2f}: {phase.open_lists:,} calls in "
        f"{phase.open_seconds:.1f} s); other Skyvia calls (backup lists): {phase.other_skyvia:,}",
        "waves: "
        + "; ".join(f"{w.name} {verdict(w.delivered)} in {w.seconds:.1f} s" for w in phase.waves)
        + f"; the floor is {sizes.backups_per_workspace} posts per channel at ~1/s each "
        "(edits are not paced)",
        f"the phase ({phase.seconds:.1f} s, incl. {sizes.steady_intervals} steady intervals "
        f"before the success and {sizes.settle_intervals} after the last message): bot CPU "
        f"{phase.bot_cpu:.1f} s, doubles+driver CPU {phase.own_cpu:.1f} s",
    ]


def figures(sizes: EpisodeSizes, phase: Phase) -> dict[str, object]:
    counts = phase.counts
    return {
        "backups": sizes.backups,
        "per_event": sizes.per_event,
        "expected": expected(sizes, sizes.failures, recovered=True),
        "delivered": counts.delivered,
        "duplicates": sum(counts.duplicates.values()),
        "unexpected": counts.unexpected,
        "waves_delivered": [w.delivered for w in phase.waves],
        "wave_seconds": [w.seconds for w in phase.waves],
        "slack_calls": [dict(w.slack_calls) for w in phase.waves],
        "list_calls_per_backup_per_interval": list_rate(sizes, phase),
        "open_list_calls_per_backup_per_interval": open_rate(sizes, phase),
        "log_calls": phase.details,
        "other_skyvia_calls": phase.other_skyvia,
        "phase_s": phase.seconds,
        "bot_cpu_s": phase.bot_cpu,
        "peak_rss_mb": phase.rss,
    }
