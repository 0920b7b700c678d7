"""Under Slack's rate limits: watched runs and failures end together, and the stand-in answers
429 past Slack's documented tiers (`bot.devtools.slack_tiers`, on here whatever
`--slack-tiers` says).

Issue 17's scenario: 10 channels, 60 watched runs finishing at once with 10 scheduled failures.
Each run owes a thread reply and a card edit, each failure an alert in every channel of its
workspace. The bot paces itself (`bot.pace_config`): replies and alerts one a second per
channel, card edits at 50 a minute per team (Slack's Tier 3), replies and alerts first. What
it must show (docs/reference/guarantees.md#delivery-at-slacks-pace):

- at most 5 % of the bot's Slack calls answered 429 (it keeps the pace instead of learning it);
- replies and alerts at the channel's pace while edits queue: the last one within 1.2 × its
  floor (one interval to see the ends, then the busiest channel's posts);
- every card in its final state within 1.3 × the `chat.update` floor (+ one interval);
- with two replicas on one PostgreSQL database, the calls per team and method in any minute
  stay inside the tier (the per-team sending lease: one replica sends for a team at a time).
  SQLite is the single-process option (tests/e2e/test_replicas_e2e.py), so there the section
  runs one replica only.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks.alerts import skyvia_calls
from benchmarks.floors import post_floor, update_floor
from benchmarks.report import Table, verdict
from benchmarks.scrape import Sampled, sampling
from benchmarks.seed import ADMIN_USER, WatchSeed, add_watches, bind_channels
from benchmarks.stack import (
    Doubles,
    bot_process,
    peak_rss_mb,
    private_database,
    running_doubles,
    wait_until,
)
from benchmarks.tally import tallying
from bot.devtools.slack_standin import SlackCall
from bot.devtools.slack_tiers import DOCUMENTED, POST_PER_WORKSPACE
from bot.simulator.runs import NEW_SECONDS, QUEUED_SECONDS
from bot.skyvia.models import SnapshotState
from bot.slack.messages.mrkdwn import state_phrase
from storage.models import DeliveryKind

REFUSED_SHARE_TARGET = 0.05
POST_FACTOR = 1.2
CARD_FACTOR = 1.3
SUCCEEDED = state_phrase(SnapshotState.SUCCEEDED)
"""What a card's text says once it shows its run's end (`bot.slack.messages.lifecycle`)."""
WINDOW = 60.0
"""Slack's tiers are per minute: the calls of any 60 s are compared with one minute's worth."""


@dataclass(frozen=True)
class TierSizes:
    channels: int = 10
    workspaces: int = 2
    watches: int = 60
    failures: int = 10
    interval: float = 1.0
    replicas: int = 2
    """On PostgreSQL the scenario runs again with this many replicas (SQLite: one only)."""
    timeout: float = 240.0
    slack_pace: str = ""
    """The bot's `SKYVIA_BOT_SLACK_PACE` (empty: its default, Slack's documented pace)."""


@dataclass
class Setup:
    """The scenario's starting state: who gets what."""

    seeds: list[WatchSeed] = field(default_factory=list)
    failing: list[int] = field(default_factory=list)
    posts_per_channel: Counter[str] = field(default_factory=Counter)
    alerts: int = 0


@dataclass
class Outcome:
    """What one run of the scenario measured."""

    replicas: int
    replies: int
    alerts: int
    expected_alerts: int
    duplicates: int
    posts_s: float
    post_floor: float
    cards: int
    cards_s: float
    card_floor: float
    calls: int
    refused: int
    busiest_minute: dict[str, int]
    """Per method, the most calls one team made in any 60 s (all replicas together)."""
    sampled: Sampled
    rss: float


def prepare(doubles: Doubles, sizes: TierSizes) -> tuple[Setup, list[tuple[str, int]]]:
    """Running snapshots with their cards and watches, and failing backups, in the doubles."""
    state, slack, setup = doubles.sim.state, doubles.slack, Setup()
    channels = [f"C0T{i:04d}" for i in range(sizes.channels)]
    per_workspace = Counter(i % sizes.channels % sizes.workspaces for i in range(sizes.watches))
    failing_per = Counter(j % sizes.workspaces for j in range(sizes.failures))
    workspaces = state.add_bulk(
        sizes.workspaces,
        max(per_workspace.values()) + max(failing_per.values(), default=0),
        scheduled_every=0,
    )
    free = {w: list(state.backups_by_workspace[w]) for w in workspaces}
    for j in range(sizes.failures):
        setup.failing.append(free[workspaces[j % sizes.workspaces]].pop().id)
    for i in range(sizes.watches):
        channel_index = i % sizes.channels
        workspace = workspaces[channel_index % sizes.workspaces]
        backup = free[workspace].pop()
        backup.run_seconds = 10 * 86400.0  # runs until the benchmark finishes it
        snapshot = state.start_snapshot(backup.id)
        card = slack.seed_message(channels[channel_index], f"Snapshot {snapshot.id} running")
        setup.seeds.append(
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
        setup.posts_per_channel[channels[channel_index]] += 1
    state.advance(NEW_SECONDS + QUEUED_SECONDS + 1)  # all Running, as the watches say
    bindings = [(c, workspaces[i % sizes.workspaces]) for i, c in enumerate(channels)]
    for channel, workspace in bindings:
        alerts = failing_per[workspaces.index(workspace)]
        setup.posts_per_channel[channel] += alerts
        setup.alerts += alerts
    return setup, bindings


def busiest_minute(calls: list[SlackCall]) -> dict[str, int]:
    """Per method, the most calls of one team within any `WINDOW` seconds."""
    times: dict[tuple[str | None, str], list[float]] = defaultdict(list)
    for call in calls:
        times[(call.team_id, call.method)].append(call.at)
    busiest: dict[str, int] = {}
    for (_, method), stamps in times.items():
        stamps.sort()
        first, most = 0, 0
        for last, at in enumerate(stamps):
            while at - stamps[first] >= WINDOW:
                first += 1
            most = max(most, last - first + 1)
        busiest[method] = max(busiest.get(method, 0), most)
    return busiest


def allowance(method: str) -> int | None:
    """The most calls the stand-in's tier lets through in one minute (rate + burst)."""
    limit = POST_PER_WORKSPACE if method == "chat.postMessage" else DOCUMENTED.get(method)
    return None if limit is None else int(limit.per_minute * WINDOW / 60 + limit.burst)


async def scenario(
    sizes: TierSizes, database_url: str | None, workdir: Path, replicas: int
) -> Outcome:
    async with (
        running_doubles(tiers="documented") as doubles,
        private_database(database_url) as url,
    ):
        state, slack = doubles.sim.state, doubles.slack
        setup, bindings = prepare(doubles, sizes)
        await bind_channels(url, bindings, alerts=True)
        await add_watches(url, setup.seeds, last_state="Running", next_poll_at=datetime.now(UTC))
        bots = [
            bot_process(
                doubles,
                url,
                workdir / f"tiers-{replicas}-bot{i}.log",
                watch_interval=sizes.interval,
                alert_interval=sizes.interval,
                slack_pace=sizes.slack_pace,
            )
            for i in range(replicas)
        ]
        cards = {(s.channel_id, s.message_ts) for s in setup.seeds}
        async with tallying(slack) as tally:
            try:
                first_call = len(slack.calls)
                for bot in bots:
                    await bot.start()
                # Every watch polled and every failing backup listed once: the bot is steady.
                await wait_until(
                    lambda: (
                        skyvia_calls(state.call_counts())[1] >= sizes.watches
                        and skyvia_calls(state.call_counts())[0] >= len(setup.failing)
                    ),
                    sizes.timeout / 4,
                )
                tally.reset()
                async with sampling([bot.url for bot in bots]) as sampled:
                    ended_at = time.monotonic()
                    for backup_id in setup.failing:
                        state.finish_snapshot(state.run_scheduled_now(backup_id).id, "Failed")
                    for seed in setup.seeds:
                        state.finish_snapshot(seed.snapshot_id, SnapshotState.SUCCEEDED)

                    def edited() -> int:
                        """Cards edited to their final state (an edit of the run's end)."""
                        final = {(c, ts) for c, ts, text in tally.edits if SUCCEEDED in text}
                        return len(final & cards)

                    await wait_until(
                        lambda: (
                            tally.count(DeliveryKind.THREAD_REPLY) >= sizes.watches
                            and tally.count(DeliveryKind.ALERT) >= setup.alerts
                            and edited() >= len(cards)
                        ),
                        sizes.timeout,
                    )
                rss = max(peak_rss_mb(bot.pid) for bot in bots)
            finally:
                for bot in bots:
                    bot.stop()
        calls = slack.calls[first_call:]
    return Outcome(
        replicas=replicas,
        replies=tally.count(DeliveryKind.THREAD_REPLY),
        alerts=tally.count(DeliveryKind.ALERT),
        expected_alerts=setup.alerts,
        duplicates=tally.duplicates(),
        posts_s=tally.last_post_at - ended_at if tally.last_post_at else math.nan,
        post_floor=sizes.interval
        + post_floor(
            setup.posts_per_channel.values(), [sizes.watches + setup.alerts], sizes.slack_pace
        ),
        cards=edited(),
        cards_s=tally.last_edit_at - ended_at if tally.last_edit_at else math.nan,
        card_floor=sizes.interval + update_floor([sizes.watches], sizes.slack_pace),
        calls=len(calls),
        refused=sum(1 for call in calls if call.status == 429),
        busiest_minute=busiest_minute(calls),
        sampled=sampled,
        rss=rss,
    )


async def run(sizes: TierSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    """One replica; on PostgreSQL then `sizes.replicas` on one database (`profile`: unused)."""
    outcomes = [await scenario(sizes, database_url, workdir, 1)]
    postgres = database_url is not None and make_url(database_url).get_backend_name() != "sqlite"
    if postgres and sizes.replicas > 1:
        outcomes.append(await scenario(sizes, database_url, workdir, sizes.replicas))
    return table(sizes, outcomes, postgres)


def table(sizes: TierSizes, outcomes: list[Outcome], postgres: bool) -> Table:
    columns = ["measure", *(f"{o.replicas} replica" + "s" * (o.replicas > 1) for o in outcomes)]
    result = Table(
        title=(
            f"Under Slack's tiers: {sizes.watches} watched runs over {sizes.channels} channels "
            f"finish with {sizes.failures} failures (interval {sizes.interval:g} s)"
        ),
        columns=[*columns, "target"],
    )

    def row(label: str, values: list[object], target: str) -> None:
        result.rows.append([label, *values, target])

    row(
        "replies + alerts delivered (duplicates)",
        [f"{o.replies + o.alerts}/{sizes.watches + o.expected_alerts} ({o.duplicates})"
         for o in outcomes],
        "all (0)",
    )  # fmt: skip
    row("Slack calls answered 429, %", [100 * o.refused / max(1, o.calls) for o in outcomes],
        f"≤ {100 * REFUSED_SHARE_TARGET:g}")  # fmt: skip
    row(
        "time until the last reply/alert, s (floor)",
        [f"{o.posts_s:.1f} ({o.post_floor:.1f})" for o in outcomes],
        f"≤ {POST_FACTOR:g} × floor",
    )
    row(
        "time until every card is final, s (chat.update floor)",
        [f"{o.cards_s:.1f} ({o.card_floor:.1f})" for o in outcomes],
        f"≤ {CARD_FACTOR:g} × floor",
    )
    methods = sorted({m for o in outcomes for m in o.busiest_minute if allowance(m) is not None})
    for method in methods:
        row(
            f"{method}: most calls of the team in a minute",
            [o.busiest_minute.get(method, 0) for o in outcomes],
            f"≤ {allowance(method)} (tier)",
        )
    row(
        "outbox: peak depth (oldest queued, s)",
        [f"{o.sampled.peak_depth:,.0f} ({o.sampled.peak_oldest_age:.1f})" for o in outcomes],
        "-",
    )
    row("bot peak RSS, MiB (largest replica)", [o.rss for o in outcomes], "-")
    for o in outcomes:
        share = o.refused / max(1, o.calls)
        delivered = o.replies >= sizes.watches and o.alerts >= o.expected_alerts
        posts_ok = delivered and o.posts_s <= POST_FACTOR * o.post_floor
        cards_ok = o.cards >= sizes.watches and o.cards_s <= CARD_FACTOR * o.card_floor
        inside = all(n <= (allowance(m) or n) for m, n in o.busiest_minute.items())
        result.notes.append(
            f"{o.replicas} replica{'s' * (o.replicas > 1)}: "
            f"≤ {100 * REFUSED_SHARE_TARGET:g} % answered 429 "
            f"{verdict(share <= REFUSED_SHARE_TARGET)} ({o.refused} of {o.calls}); replies and "
            f"alerts at the channel's pace {verdict(posts_ok)}; every card final in time "
            f"{verdict(cards_ok)} ({o.cards}/{sizes.watches}); calls per team per minute inside "
            f"the tiers {verdict(inside)}"
        )
    if not postgres:
        result.notes.append(
            "two replicas: not run (replicas share a PostgreSQL database; run with "
            "--database-url postgresql+asyncpg://...)"
        )
    result.notes.append(
        "floors (benchmarks/floors.py, from the bot's pace): one interval to see the ends, then "
        f"the busiest channel's posts at one a second (burst 1), or the team's {sizes.watches} "
        "card edits at 50 a minute (burst 5); the stand-in's tiers: bot/devtools/slack_tiers.py"
    )
    result.figures = {
        "outcomes": [
            {
                "replicas": o.replicas,
                "replies": o.replies,
                "alerts": o.alerts,
                "expected_alerts": o.expected_alerts,
                "duplicates": o.duplicates,
                "cards": o.cards,
                "slack_calls": o.calls,
                "slack_429": o.refused,
                "posts_s": o.posts_s,
                "post_floor_s": o.post_floor,
                "cards_s": o.cards_s,
                "card_floor_s": o.card_floor,
                "busiest_minute": o.busiest_minute,
                "outbox_peak_depth": o.sampled.peak_depth,
                "peak_rss_mb": o.rss,
            }
            for o in outcomes
        ],
        "expected_replies": sizes.watches,
    }
    return result
