"""Ack latency: signed `/skyvia` commands through the real HTTP stack, bot vs bare Bolt.

Both servers get the same plan from the same load generator (its own process), one after the
other in one run: half `status`, half `snapshot <id>` (each on a different backup of the
simulator, so every one really starts a snapshot, posts a card and records a watch after the
ack), at a fixed rate. The bot runs with its workers, as `skyvia-bot run` does, so the watcher
polling the new watches competes with the requests as it would in production.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import Table, percentile, verdict
from benchmarks.seed import bind_channels
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

P99_TARGET_MS = 50.0
P50_RATIO_TARGET = 1.3


@dataclass(frozen=True)
class AckSizes:
    requests: int = 1000
    rate: float = 50.0
    channels: int = 20
    users: int = 20
    warmup: int = 30


def build_plan(
    sizes: AckSizes, doubles: Doubles, channels: list[str], users: list[str], backups: list[int]
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
                "response_url": doubles.slack.response_url(f"bench-{i}"),
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


async def run(sizes: AckSizes, database_url: str | None, workdir: Path, profile: bool) -> Table:
    snapshots = sizes.requests // 2
    async with running_doubles() as doubles, private_database(database_url) as url:
        state = doubles.sim.state
        workspace = state.add_bulk(1, max(1, snapshots), scheduled_every=0)[0]
        backups = [b.id for b in state.backups_by_workspace[workspace]]
        channels = [f"C0ACK{i:04d}" for i in range(sizes.channels)]
        users = [f"U0ACK{i:04d}" for i in range(sizes.users)]
        for user in users:
            doubles.slack.add_user(user)
        await bind_channels(url, [(c, workspace) for c in channels], alerts=True)
        plan = build_plan(sizes, doubles, channels, users, backups)

        bare = ProfiledProcess(
            args=["-m", "benchmarks.bare_bolt"],
            env={
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": doubles.slack.api_url,
            },
            log_path=workdir / "ack-bare-bolt.log",
        )
        bot = bot_process(doubles, url, workdir / "ack-bot.log")
        try:
            await bare.start()
            bare_samples = await run_loadgen(bare.url, sizes, plan, workdir, "ack-bare")
            bare.stop()
            await bot.start()
            if profile:
                bot.attach_profiler(workdir / "ack-bot.pyspy.txt")
            bot_cpu, own_cpu, began = cpu_seconds(bot.pid), time.process_time(), time.monotonic()
            bot_samples = await run_loadgen(bot.url, sizes, plan, workdir, "ack-bot")
            elapsed = time.monotonic() - began
            bot_cpu = cpu_seconds(bot.pid) - bot_cpu
            own_cpu = time.process_time() - own_cpu
            cards = _cards_posted(doubles)
            answered = await _after_ack_work(doubles, plan[sizes.warmup :], snapshots)
            rss = peak_rss_mb(bot.pid)
        finally:
            bare.stop()
            bot.stop()

    baseline = percentile([s["ms"] for s in bare_samples], 50)
    table = Table(
        title=f"Ack latency: {sizes.requests:,} signed /skyvia commands at {sizes.rate:g}/s",
        columns=["server", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-200", "p50 ×"],
    )
    table.rows.append(_row("bare Bolt AsyncApp (ack only)", bare_samples, baseline))
    table.rows.append(_row("bot: all", bot_samples, baseline))
    for kind in ("status", "snapshot"):
        table.rows.append(
            _row(f"bot: {kind}", [s for s in bot_samples if s["kind"] == kind], baseline)
        )
    all_ms = [s["ms"] for s in bot_samples]
    p99, ratio = percentile(all_ms, 99), percentile(all_ms, 50) / baseline
    table.notes += [
        f"target p99 < {P99_TARGET_MS:g} ms: {verdict(p99 < P99_TARGET_MS)} ({p99:.1f} ms)",
        f"target p50 ≤ {P50_RATIO_TARGET} × bare Bolt: "
        f"{verdict(ratio <= P50_RATIO_TARGET)} ({ratio:.2f} ×)",
        f"work after the ack: {answered['status']:,}/{sizes.requests - snapshots:,} status "
        f"answers, {answered['snapshot']:,}/{snapshots:,} snapshot cards "
        f"(cards seen when the load ended: {cards:,})",
        f"bot CPU {bot_cpu:.1f} s over {elapsed:.1f} s ({bot_cpu / elapsed:.0%} of a core), "
        f"doubles+driver CPU {own_cpu:.1f} s; bot peak RSS {rss:.0f} MiB",
    ]
    table.figures = {
        "requests": len(bot_samples),
        "bot_non_200": sum(1 for s in bot_samples if s["status"] != 200),
        "bare_non_200": sum(1 for s in bare_samples if s["status"] != 200),
        "p50_ms": percentile(all_ms, 50),
        "p99_ms": p99,
        "bare_p50_ms": baseline,
        "p50_ratio": ratio,
        "status_answered": answered["status"],
        "snapshot_cards": answered["snapshot"],
        "peak_rss_mb": rss,
    }
    note_tiers(table, doubles.slack)
    return table


def _cards_posted(doubles: Doubles) -> int:
    return sum(
        1
        for call in doubles.slack.calls_to("chat.postMessage")
        if call.ok and "thread_ts" not in call.args
    )


async def _after_ack_work(
    doubles: Doubles, measured: list[dict[str, Any]], snapshots: int
) -> dict[str, int]:
    """Waits (bounded) for the work each command does after its ack, and counts it done."""
    status_urls = {p["response_url"].rsplit("/", 1)[1] for p in measured if p["kind"] == "status"}

    def answered() -> int:
        return len({r.response_id for r in doubles.slack.all_responses()} & status_urls)

    await wait_until(
        lambda: answered() >= len(status_urls) and _cards_posted(doubles) >= snapshots, 30
    )
    return {"status": answered(), "snapshot": _cards_posted(doubles)}
