"""What every section runs: a private database, the test doubles, and the bot as its own process.

The doubles (Skyvia simulator and Slack stand-in) are served from the benchmark's own process:
each section reports that process's CPU time next to the bot's, which shows whether the doubles
kept up (they must not be what is measured). The bot is `python -m bot run --http`, exactly what
an operator runs, so its figures include uvicorn, Starlette, Bolt, logging and the workers.

The Slack stand-in answers every call unless `SKYVIA_BENCH_SLACK_TIERS` (what `--slack-tiers`
sets) names Slack's rate-limit tiers (`documented` or `outside-marketplace`, see
`bot.devtools.slack_tiers`); then each table notes how many Slack calls were answered 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from benchmarks.report import Table
from bot.devtools.child_process import ChildProcess
from bot.devtools.slack_standin import FakeSlack, running_fake_slack
from bot.devtools.slack_tiers import SlackTiers
from bot.devtools.waiting import poll
from bot.simulator.server import RunningSimulator, running_simulator
from storage.db import normalize_url, upgrade_async

SIGNING_SECRET = "benchmark-signing-secret-0123456789"
BOT_TOKEN = "xoxb-benchmark-bot"
TEAM_ID = "T0BENCH"
PG_PREFIX = "skyvia_bench_"
SLACK_TIERS_ENV = "SKYVIA_BENCH_SLACK_TIERS"
"""`off` (the default), `documented` or `outside-marketplace`: the stand-in's rate limits."""
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def private_database(base_url: str | None) -> AsyncIterator[str]:
    """A fresh database migrated to head, removed afterwards.

    SQLite (default): a file in a new temporary directory. PostgreSQL: `base_url` names a server
    and a database to connect to; a new database `skyvia_bench_<random>` is created beside it
    and dropped at the end. Nothing this function did not create is touched.
    """
    if base_url is None or make_url(base_url).get_backend_name() == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="skyvia-bench-"))
        try:
            url = f"sqlite+aiosqlite:///{directory / 'bot.db'}"
            await upgrade_async(url)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    admin = normalize_url(base_url)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{PG_PREFIX}{secrets.token_hex(6)}"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        url = admin.set(database=name).render_as_string(hide_password=False)
        await upgrade_async(url)
        yield url
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@dataclass
class Doubles:
    sim: RunningSimulator
    slack: FakeSlack


def slack_tiers_from_env() -> SlackTiers | None:
    """The tiers `SKYVIA_BENCH_SLACK_TIERS` names; None (no limits) when it is unset."""
    return SlackTiers.named(os.environ.get(SLACK_TIERS_ENV, "off"))


@contextlib.asynccontextmanager
async def running_doubles(tiers: str | None = None) -> AsyncIterator[Doubles]:
    """Simulator (no scheduled runs: only what a section starts) and a non-validating stand-in,
    rate-limited as `tiers` names (`TIER_NAMES`), else as `SKYVIA_BENCH_SLACK_TIERS` says."""
    async with (
        running_simulator(schedule_interval=None) as sim,
        running_fake_slack(
            bot_token=BOT_TOKEN,
            team_id=TEAM_ID,
            validate_blocks=False,
            tiers=slack_tiers_from_env() if tiers is None else SlackTiers.named(tiers),
        ) as slack,
    ):
        yield Doubles(sim=sim, slack=slack)


def note_tiers(table: Table, slack: FakeSlack) -> None:
    """With the stand-in's tiers on: how many Slack calls they answered 429, over the section,
    in the notes and as `slack_calls` / `slack_429` figures. Nothing when they are off."""
    if slack.tiers is None:
        return
    calls, limited = slack.call_counts(), slack.rate_limited_counts()
    total, refused = sum(calls.values()), sum(limited.values())
    table.figures.update(slack_calls=total, slack_429=refused)
    per_method = ", ".join(f"{m} {n:,} of {calls[m]:,}" for m, n in sorted(limited.items()))
    table.notes.append(
        f"Slack's tiers on: {refused:,} of {total:,} Slack calls answered 429"
        f" ({100 * refused / max(1, total):.1f} %){': ' + per_method if per_method else ''}"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


@dataclass
class ProfiledProcess(ChildProcess):
    """A child process py-spy can sample; stopping it waits until the profile is written."""

    profiler: subprocess.Popen[bytes] | None = None

    def attach_profiler(self, output: Path) -> None:
        """Samples the process with py-spy until it exits (collapsed stacks in `output`)."""
        self.profiler = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(self.pid),
                "--format",
                "raw",
                "--rate",
                "50",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ProfiledProcess]:
        """Started for the block, then stopped off the event loop: the doubles this process
        serves must answer the bot's last calls, or its graceful shutdown waits for their
        timeouts (~15 s)."""
        try:
            await self.start()
            yield self
        finally:
            await asyncio.to_thread(self.stop)

    def stop(self, timeout: float = 20.0) -> int:
        code = super().stop(timeout)
        if self.profiler is not None:
            try:
                self.profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
                self.profiler.wait()
        return code


def bot_process(
    doubles: Doubles,
    database_url: str,
    log_path: Path,
    *,
    watch_interval: float = 15.0,
    alert_interval: float = 60.0,
    workers: bool = True,
    slack_pace: str = "",
) -> ProfiledProcess:
    """`python -m bot run --http` against the doubles, configured as an operator would."""
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": doubles.slack.api_url,
        "SKYVIA_API_URL": doubles.sim.base_url,
        "SKYVIA_API_TOKEN": doubles.sim.token,
        "DATABASE_URL": database_url,
        "SKYVIA_BOT_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SKYVIA_BOT_WATCH_INTERVAL": str(watch_interval),
        "SKYVIA_BOT_ALERT_INTERVAL": str(alert_interval),
        "LOG_LEVEL": "INFO",
        "SKYVIA_BOT_SLACK_PACE": slack_pace,
    }
    args = ["-m", "bot", "run", "--http"] + ([] if workers else ["--no-workers"])
    return ProfiledProcess(args=args, env=env, log_path=log_path)


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Polls `predicate()` until true or `timeout` seconds pass; says whether it came true.

    A figure that was not reached is reported, not raised: the table shows what was done.
    """
    held, _ = await poll(predicate, timeout=timeout, interval=step)
    return held
