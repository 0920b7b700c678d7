"""Starts the real bot for end-to-end tests: in-process on a free port, or as a child process.

In-process is fast and lets a test look at the container; the child process is for what only a
real process shows (SIGKILL, restarts, two replicas on one database).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet
from slack_bolt.async_app import AsyncApp

from bot.app import create_app
from bot.config import Settings
from bot.container import Container
from bot.devtools.child_process import ChildProcess
from bot.devtools.slack_standin import serve_asgi_on_loopback
from bot.devtools.waiting import wait_until
from bot.web import create_web_app
from bot.workers import WorkerGroup, build_workers
from bot.workers.base import PeriodicWorker

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-bot-token"
ENCRYPTION_KEY = Fernet.generate_key().decode()


def bot_env(
    *, slack_api_url: str, skyvia_api_url: str, database_url: str, **extra: Any
) -> dict[str, str]:
    """Environment variables for a bot under test (the same names an operator sets); an `extra`
    value of None leaves that variable out."""
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "SKYVIA_API_URL": skyvia_api_url,
        "DATABASE_URL": database_url,
        "SKYVIA_BOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SKYVIA_BOT_WATCH_INTERVAL": "0.2",
        "SKYVIA_BOT_ALERT_INTERVAL": "0.3",
        # Retention runs often, so "every worker ticked" (`after_ticks`) comes soon, and every
        # e2e run also shows it deletes nothing still in use.
        "SKYVIA_BOT_RETENTION_INTERVAL": "0.5",
        "LOG_LEVEL": "INFO",
    }
    for name, value in extra.items():  # None unsets a default (e.g. no SLACK_BOT_TOKEN)
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


class ListenerTally:
    """Counts Bolt listener runs begun and finished, so a test can wait until none is running.

    Bolt acks a request and runs its listener in the background; a test that must show a request
    did nothing waits for `idle()` rather than for a guessed sleep. A run counts as begun when
    Bolt dispatches it (before the HTTP answer is sent) and as finished in Bolt's completion
    handler (after the listener returned or failed).
    """

    def __init__(self, app: AsyncApp) -> None:
        self.begun = 0
        self.finished = 0
        runner = app.listener_runner
        dispatch, complete = runner.run, runner.listener_completion_handler.handle

        async def run(*args: Any, **kwargs: Any) -> Any:
            self.begun += 1
            return await dispatch(*args, **kwargs)

        async def handle(*args: Any, **kwargs: Any) -> None:
            try:
                await complete(*args, **kwargs)
            finally:
                self.finished += 1

        runner.run = run  # type: ignore[method-assign]
        runner.listener_completion_handler.handle = handle  # type: ignore[method-assign]

    async def idle(self, timeout: float = 15.0) -> None:
        """Returns once every listener run begun so far has finished."""
        begun = self.begun
        await wait_until(
            lambda: self.finished >= begun, timeout=timeout, what=f"{begun} listener runs"
        )


@dataclass
class RunningBot:
    url: str
    container: Container
    settings: Settings
    listeners: ListenerTally
    workers: WorkerGroup | None

    async def after_ticks(self, count: int = 2, timeout: float = 30.0) -> None:
        """Returns once each worker finished `count` more ticks: work due by now was looked at.

        The first of them may have begun before the call, so "nothing happened" needs two.
        """
        assert self.workers is not None, "this bot runs no workers"
        pending = [
            w.wait_ticks(count) for w in self.workers.workers if isinstance(w, PeriodicWorker)
        ]
        assert pending, "no worker counts its ticks"
        await asyncio.wait_for(asyncio.gather(*pending), timeout)


@asynccontextmanager
async def running_bot(*, workers: bool = True, **env_kwargs: Any) -> AsyncIterator[RunningBot]:
    """The real Bolt app behind the real Starlette app and uvicorn, on 127.0.0.1:<free port>.

    The web app's lifespan runs (workers start and stop with it, the container is closed), as in
    `skyvia-bot run`.
    """
    env = bot_env(**env_kwargs)
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    container = await Container.create(settings)
    app = create_app(container)
    listeners = ListenerTally(app)
    group = build_workers(container) if workers else None
    web = create_web_app(container, app, background=group)
    async with serve_asgi_on_loopback(web, lifespan="on") as url:
        yield RunningBot(url, container, settings, listeners, group)


def bot_process(env: dict[str, str], *args: str) -> ChildProcess:
    """`python -m bot <args>` (default `run --http`) as a child process: what an operator runs.

    TEST_DATABASE_URL is not passed on: the child uses the DATABASE_URL the test gave it.
    """
    return ChildProcess(
        args=["-m", "bot", *(args or ("run", "--http"))], env=env, unset=("TEST_DATABASE_URL",)
    )
