"""Ack latency: signed `/skyvia` commands through the real HTTP stack, bot vs bare Bolt.

Both servers get the same plan from the same load generator (its own process), one after the
other in one run: half `status`, half `snapshot <id>` (each on a different backup of the
simulator, so every one really starts a snapshot, posts a card and records a watch after the
ack), at a fixed rate. The bot runs with its workers, as `skyvia-bot run` does, so the watcher
polling the new watches and the alert scanner (every second, over the wave's backups) compete
with the requests as they would in production.

The bot then gets the same load again (on fresh backups) while a wave of alerts goes out: every
backup of the wave's workspaces fails at once as the commands begin, so the scanner writes
thousands of alerts to the outbox and the senders drain them at Slack's pace during the whole
run. An ack must not wait behind that work (issue 17: p50 ≤ 1.3 × bare Bolt, p99 < 50 ms).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.alerts import skyvia_calls
from benchmarks.report import Table, percentile, verdict
from benchmarks.seed import bind_channels, seed_fan_out
from benchmarks.stack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    Doubles,
    ProfiledProcess,
    bot_process,
    cpu_seconds,
    note_tiers,
    peak_rss_mb,
    private_database,
    running_doubles,
    wait_until,
)
from benchmarks.tally import tallying
from storage.models import DeliveryKind

P99_TARGET_MS = 50.0
P50_RATIO_TARGET = 1.3


@dataclass(frozen=True)
class AckSizes:
    requests: int = 1000
    rate: float = 50.0
    channels: int = 20
    users: int = 20
    warmup: int = 30
    wave_workspaces: int = 10
    wave_backups_per_workspace: int = 25
    wave_channels_per_workspace: int = 20
    """The alert wave: 10 × 20 channels × 25 failures = 5,000 alerts, ~25 s at one a second per
    channel, about as long as the load (1,000 commands at 50/s)."""
    alert_interval: float = 1.0

    def wave_alerts(self) -> int:
        return (
            self.wave_workspaces
            * self.wave_channels_per_workspace
            * self.wave_backups_per_workspace
        )


def build_plan(
    sizes: AckSizes,
    doubles: Doubles,
    channels: list[str],
    users: list[str],
    backups: list[int],
    tag: str = "bench",
) -> list[dict[str, Any]]:
    plan = []
    for i in range(sizes.warmup + sizes.requests):
        measured = i - sizes.warmup
        snapshot = measured >= 0 and measured % 2 == 1
        plan.append(
            {
                "kind": "snapshot" if snapshot else "status",
                "text": f"snapshot {backups[measured // 2]}" if snapshot else "status",
                "channel": channels[i % len(channels)],
                "user": users[i % len(users)],
                "response_url": doubles.slack.response_url(f"{tag}-{i}"),
            }
        )
    return plan


async def run_loadgen(
    url: str, sizes: AckSizes, plan: list[dict[str, Any]], workdir: Path, name: str
) -> list[dict[str, Any]]:
    plan_path = workdir / f"{name}-plan.json"
    result_path = workdir / f"{name}-result.json"
    plan_path.write_text(
        json.dumps(
            {
                "url": url,
                "signing_secret": SIGNING_SECRET,
                "team_id": TEAM_ID,
                "rate": sizes.rate,
                "warmup": sizes.warmup,
                "requests": plan,
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.loadgen", str(plan_path), str(result_path)
    )
    try:
        timeout = 60 + sizes.requests / sizes.rate * 3
        if await asyncio.wait_for(process.wait(), timeout) != 0:
            raise RuntimeError(f"the load generator failed for {name}")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    samples: list[dict[str, Any]] = json.loads(result_path.read_text())["samples"]
    return samples


def _row(label: str, samples: list[dict[str, Any]], baseline_p50: float | None) -> list[Any]:
    ms = [s["ms"] for s in samples]
    p50 = percentile(ms, 50)
    bad = sum(1 for s in samples if s["status"] != 200)
    ratio = p50 / baseline_p50 if baseline_p50 else float("nan")
    return [
        label,
        len(samples),
        p50,
        percentile(ms, 90),
        percentile(ms, 99),
        max(ms) if ms else float("nan"),
        bad,
        ratio,
    ]


@dataclass
class BotRun:
    """One load against the bot: its samples, CPU, and the work done after the acks."""

    samples: list[dict[str, Any]]
    elapsed: float
    cpu: float
    own_cpu: float
    answered: dict[str, int]
    cards_at_end: int
    alerts: int = 0
    """Alerts of the wave that arrived while this load ran (and its work after the ack)."""
    wave_delivered: int = 0
    """Alerts of the wave that arrived in all (the wave's own check: each channel once)."""


async def _load_bot(
    bot: ProfiledProcess,
    doubles: Doubles,
    sizes: AckSizes,
    plan: list[dict[str, Any]],
    workdir: Path,
    name: str,
) -> BotRun:
    cards_before = _cards_posted(doubles)
    cpu, own_cpu, began = cpu_seconds(bot.pid), time.process_time(), time.monotonic()
    samples = await run_loadgen(bot.url, sizes, plan, workdir, name)
    elapsed = time.monotonic() - began
    cpu = cpu_seconds(bot.pid) - cpu
    own_cpu = time.process_time() - own_cpu
    cards = _cards_posted(doubles) - cards_before
    answered = await _after_ack_work(
        doubles, plan[sizes.warmup :], sizes.requests // 2, cards_before
    )
    return BotRun(samples, elapsed, cpu, own_cpu, answered, cards)


async def run(sizes: AckSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    snapshots = sizes.requests // 2
    async with running_doubles() as doubles, private_database(database_url) as url:
        state = doubles.sim.state
        # Two sets of backups: the quiet load's snapshots, then the loaded one's.
        workspace = state.add_bulk(1, max(1, 2 * snapshots), scheduled_every=0)[0]
        backups = [b.id for b in state.backups_by_workspace[workspace]]
        channels = [f"C0ACK{i:04d}" for i in range(sizes.channels)]
        users = [f"U0ACK{i:04d}" for i in range(sizes.users)]
        for user in users:
            doubles.slack.add_user(user)
        await bind_channels(url, [(c, workspace) for c in channels], alerts=True)
        wave = await seed_fan_out(
            state,
            url,
            workspaces=sizes.wave_workspaces,
            backups_per_workspace=sizes.wave_backups_per_workspace,
            channels_per_workspace=sizes.wave_channels_per_workspace,
            prefix="C0AW",
        )
        plan = build_plan(sizes, doubles, channels, users, backups[:snapshots])
        wave_plan = build_plan(sizes, doubles, channels, users, backups[snapshots:], "wave")

        bare = ProfiledProcess(
            args=["-m", "benchmarks.bare_bolt"],
            env={
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": doubles.slack.api_url,
            },
            log_path=workdir / "ack-bare-bolt.log",
        )
        bot = bot_process(
            doubles, url, workdir / "ack-bot.log", alert_interval=sizes.alert_interval
        )
        async with tallying(doubles.slack) as tally:
            try:
                await bare.start()
                bare_samples = await run_loadgen(bare.url, sizes, plan, workdir, "ack-bare")
                bare.stop()
                await bot.start()
                if profile:
                    bot.attach_profiler(workdir / "ack-bot.pyspy.txt")
                # The scanner knows the wave's backups before the load begins.
                every = len(backups) + len(wave)
                await wait_until(lambda: _lists(doubles) >= every, 60)
                quiet = await _load_bot(bot, doubles, sizes, plan, workdir, "ack-bot")
                tally.reset()
                for backup_id in wave:
                    state.finish_snapshot(state.run_scheduled_now(backup_id).id, "Failed")
                # The load begins once the wave flows (its first alert arrived).
                await wait_until(lambda: tally.count(DeliveryKind.ALERT) > 0, 30)
                before = tally.count(DeliveryKind.ALERT)
                loaded = await _load_bot(bot, doubles, sizes, wave_plan, workdir, "ack-wave")
                loaded.alerts = tally.count(DeliveryKind.ALERT) - before
                await wait_until(
                    lambda: tally.count(DeliveryKind.ALERT) >= sizes.wave_alerts(), 120
                )
                wave_delivered = tally.count(DeliveryKind.ALERT)
                rss = peak_rss_mb(bot.pid)
            finally:
                bare.stop()
                bot.stop()
    loaded.wave_delivered = wave_delivered
    return _table(sizes, bare_samples, quiet, loaded, rss, doubles)


def _lists(doubles: Doubles) -> int:
    """`GET .../snapshots` calls so far (the scanner's: one per backup per round)."""
    return skyvia_calls(doubles.sim.state.call_counts())[0]


def _table(
    sizes: AckSizes,
    bare_samples: list[dict[str, Any]],
    quiet: BotRun,
    loaded: BotRun,
    rss: float,
    doubles: Doubles,
) -> Table:
    snapshots = sizes.requests // 2
    baseline = percentile([s["ms"] for s in bare_samples], 50)
    table = Table(
        title=f"Ack latency: {sizes.requests:,} signed /skyvia commands at {sizes.rate:g}/s",
        columns=["server", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-200", "p50 ×"],
    )
    table.rows.append(_row("bare Bolt AsyncApp (ack only)", bare_samples, baseline))
    for label, bot_run in (("bot", quiet), ("bot, alert wave", loaded)):
        table.rows.append(_row(f"{label}: all", bot_run.samples, baseline))
        for kind in ("status", "snapshot"):
            some = [s for s in bot_run.samples if s["kind"] == kind]
            table.rows.append(_row(f"{label}: {kind}", some, baseline))
    figures: dict[str, Any] = {
        "requests": len(quiet.samples),
        "bare_non_200": sum(1 for s in bare_samples if s["status"] != 200),
        "bare_p50_ms": baseline,
        "peak_rss_mb": rss,
        "wave_alerts_expected": sizes.wave_alerts(),
    }
    for prefix, label, bot_run in (("", "", quiet), ("wave_", " while alerts go out", loaded)):
        all_ms = [s["ms"] for s in bot_run.samples]
        p99, ratio = percentile(all_ms, 99), percentile(all_ms, 50) / baseline
        table.notes += [
            f"target p99 < {P99_TARGET_MS:g} ms{label}: {verdict(p99 < P99_TARGET_MS)} "
            f"({p99:.1f} ms); target p50 ≤ {P50_RATIO_TARGET} × bare Bolt: "
            f"{verdict(ratio <= P50_RATIO_TARGET)} ({ratio:.2f} ×)",
            f"work after the ack{label}: {bot_run.answered['status']:,}/"
            f"{sizes.requests - snapshots:,} status answers, "
            f"{bot_run.answered['snapshot']:,}/{snapshots:,} snapshot cards (cards seen when the "
            f"load ended: {bot_run.cards_at_end:,}); bot CPU {bot_run.cpu:.1f} s over "
            f"{bot_run.elapsed:.1f} s ({bot_run.cpu / bot_run.elapsed:.0%} of a core), "
            f"doubles+driver CPU {bot_run.own_cpu:.1f} s",
        ]
        figures |= {
            f"{prefix}requests": len(bot_run.samples),
            f"{prefix}bot_non_200": sum(1 for s in bot_run.samples if s["status"] != 200),
            f"{prefix}p50_ms": percentile(all_ms, 50),
            f"{prefix}p99_ms": p99,
            f"{prefix}p50_ratio": ratio,
            f"{prefix}status_answered": bot_run.answered["status"],
            f"{prefix}snapshot_cards": bot_run.answered["snapshot"],
        }
    figures["wave_alerts_during_load"] = loaded.alerts
    figures["wave_alerts"] = loaded.wave_delivered
    table.notes += [
        f"the alert wave: {sizes.wave_workspaces} workspaces × "
        f"{sizes.wave_channels_per_workspace} channels × {sizes.wave_backups_per_workspace} "
        f"failures at once; the second load began with the wave's first alert, and "
        f"{loaded.alerts:,} of its {sizes.wave_alerts():,} alerts arrived while the load and "
        f"its work ran ({loaded.wave_delivered:,} in the end)",
        f"bot peak RSS {rss:.0f} MiB",
    ]
    table.figures = figures
    note_tiers(table, doubles.slack)
    return table


def _cards_posted(doubles: Doubles) -> int:
    """Top-level posts that are not alerts: the snapshot commands' cards."""
    return sum(
        1
        for call in doubles.slack.calls_to("chat.postMessage")
        if call.ok and "thread_ts" not in call.args and _kind(call.args) != DeliveryKind.ALERT
    )


def _kind(args: dict[str, Any]) -> str | None:
    """The delivery kind a post's metadata names (None for a post without one)."""
    metadata = args.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload.get("kind") if isinstance(payload, dict) else None


async def _after_ack_work(
    doubles: Doubles, measured: list[dict[str, Any]], snapshots: int, cards_before: int
) -> dict[str, int]:
    """Waits (bounded) for the work each command does after its ack, and counts it done."""
    status_urls = {p["response_url"].rsplit("/", 1)[1] for p in measured if p["kind"] == "status"}

    def answered() -> int:
        return len({r.response_id for r in doubles.slack.all_responses()} & status_urls)

    def cards() -> int:
        return _cards_posted(doubles) - cards_before

    await wait_until(lambda: answered() >= len(status_urls) and cards() >= snapshots, 30)
    return {"status": answered(), "snapshot": cards()}
