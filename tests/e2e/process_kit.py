"""The bot as child processes (`python -m bot run --http`) for crash and replica tests.

The simulator and the fake Slack stay in the test process, so they outlive a SIGKILLed bot and
see exactly what each incarnation of it did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.devtools.child_process import ChildProcess
from bot.simulator import RunningSimulator
from storage.db import Database
from tests.constants import ADMIN, MEMBER
from tests.e2e.bot_runner import SIGNING_SECRET, bot_env, bot_process
from tests.e2e.fake_slack import FakeSlack
from tests.e2e.slack_requests import SlackRequestSender


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

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()


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
