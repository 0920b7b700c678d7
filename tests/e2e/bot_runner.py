"""Starts the real bot for end-to-end tests: in-process on a free port, or as a child process.

In-process is fast and lets a test look at the container; the child process is for what only a
real process shows (SIGKILL, restarts, two replicas on one database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet

from bot.app import create_app
from bot.config import Settings
from bot.container import Container
from bot.devtools.child_process import ChildProcess
from bot.web import create_web_app
from bot.workers import build_workers
from tests.e2e.fake_slack import serve_asgi_on_loopback

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-bot-token"
ENCRYPTION_KEY = Fernet.generate_key().decode()


def bot_env(
    *, slack_api_url: str, skyvia_api_url: str, database_url: str, **extra: Any
) -> dict[str, str]:
    """Environment variables for a bot under test (the same names an operator sets)."""
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "SKYVIA_API_URL": skyvia_api_url,
        "DATABASE_URL": database_url,
        "SKYVIA_BOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SKYVIA_BOT_WATCH_INTERVAL": "0.2",
        "SKYVIA_BOT_ALERT_INTERVAL": "0.3",
        "LOG_LEVEL": "INFO",
    }
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


@dataclass
class RunningBot:
    url: str
    container: Container
    settings: Settings


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
    web = create_web_app(container, app, background=build_workers(container) if workers else None)
    async with serve_asgi_on_loopback(web, lifespan="on") as url:
        yield RunningBot(url=url, container=container, settings=settings)


def bot_process(env: dict[str, str], *args: str) -> ChildProcess:
    """`python -m bot <args>` (default `run --http`) as a child process: what an operator runs.

    TEST_DATABASE_URL is not passed on: the child uses the DATABASE_URL the test gave it.
    """
    return ChildProcess(
        args=["-m", "bot", *(args or ("run", "--http"))], env=env, unset=("TEST_DATABASE_URL",)
    )
