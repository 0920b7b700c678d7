"""The bot as child processes (`python -m bot run --http`) for crash and replica tests; the
`procs` fixture (a pytest plugin, see tests/conftest.py) is one such stack per test.

The simulator and the fake Slack stay in the test process, so they outlive a SIGKILLed bot and
see exactly what each incarnation of it did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.devtools.child_process import ChildProcess
from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.devtools.waiting import wait_until
from bot.simulator import RunningSimulator
from storage.db import Database
from tests.constants import ADMIN, CHANNEL, MEMBER
from tests.e2e.bot_runner import SIGNING_SECRET, bot_env, bot_process


@dataclass
class ProcessStack:
    slack: FakeSlack
    sim: RunningSimulator
    db: Database
    env: dict[str, str]
    logs: Path
    sender_factory: Callable[[str, str], SlackRequestSender]
    processes: list[ChildProcess]

    async def start(self) -> tuple[ChildProcess, SlackRequestSender]:
        """A new bot process on the shared database; returns it and a sender aimed at it."""
        process = bot_process(dict(self.env))
        self.processes.append(process)
        await process.start(self.logs / f"bot-{len(self.processes)}.log")
        return process, self.sender_factory(process.url, SIGNING_SECRET)

    async def after_ticks(self, count: int = 2, timeout: float = 30.0) -> None:
        """Returns once each worker of each live process finished `count` more ticks.

        Read from `/metrics` (`skyvia_bot_worker_ticks_total`): a child process shows nothing
        else. The first counted tick may have begun before the call, so "nothing happened"
        needs two.
        """
        live = [p for p in self.processes if p.returncode is None]
        before = [await worker_ticks(p) for p in live]
        assert all(before), "a bot process reports no worker ticks"

        async def counted() -> bool:
            for process, start in zip(live, before, strict=True):
                now = await worker_ticks(process)
                if any(now[worker] < ticks + count for worker, ticks in start.items()):
                    return False
            return True

        await wait_until(counted, timeout=timeout, interval=0.1, what=f"{count} more ticks")

    async def connect(self, send: SlackRequestSender, channel: str = CHANNEL) -> None:
        """Binds `channel` to workspace 123 as the admin, through `send`'s bot process."""
        before = len(self.slack.calls_to("chat.postMessage"))
        await send.slash_command("connect 123", user_id=ADMIN, channel_id=channel)
        await self.slack.wait_for("chat.postMessage", lambda c: c.ok, count=before + 1)

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()


async def worker_ticks(process: ChildProcess) -> dict[str, float]:
    """Ticks each worker of a bot process finished so far, by worker name, from `/metrics`."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{process.url}/metrics", timeout=5)).text
    return {
        sample.labels["worker"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "skyvia_bot_worker_ticks_total"
    }


@asynccontextmanager
async def process_stack(
    *,
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    sender_factory: Callable[[str, str], SlackRequestSender],
    logs: Path,
    **env: str,
) -> AsyncIterator[ProcessStack]:
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    fake_slack.add_user(MEMBER, name="dana")
    settings = bot_env(
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SKYVIA_API_TOKEN=simulator.token,
        **env,
    )
    db = Database.connect(database_url)
    stack = ProcessStack(fake_slack, simulator, db, settings, logs, sender_factory, [])
    try:
        yield stack
    finally:
        stack.stop_all()
        await db.dispose()


@pytest.fixture
async def procs(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    slack_sender_factory: Callable[[str, str], SlackRequestSender],
    tmp_path: Path,
) -> AsyncIterator[ProcessStack]:
    async with process_stack(
        fake_slack=fake_slack,
        simulator=simulator,
        database_url=database_url,
        sender_factory=slack_sender_factory,
        logs=tmp_path,
    ) as stack:
        yield stack
