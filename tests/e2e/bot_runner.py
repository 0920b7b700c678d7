"""Starts the real bot for end-to-end tests: in-process on a free port, or as a child process.

In-process is fast and lets a test look at the container; the child process is for what only a
real process shows (SIGKILL, restarts, two replicas on one database).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bot.app import create_app
from bot.config import Settings
from bot.container import Container
from bot.devtools.ports import free_port
from bot.web import create_web_app
from bot.workers import build_workers
from tests.e2e.fake_slack import serve_asgi_on_loopback

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-bot-token"
ENCRYPTION_KEY = Fernet.generate_key().decode()
REPO_ROOT = Path(__file__).resolve().parents[2]


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


@dataclass
class BotProcess:
    """`python -m bot run --http` as a child process (what an operator runs)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ("run", "--http")
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, log_path: Path) -> None:
        self.spawn(log_path)
        await self.wait_ready()

    def spawn(self, log_path: Path) -> None:
        self.log_path = log_path
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        env.pop("TEST_DATABASE_URL", None)
        log_file = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"bot exited with {self.process.returncode}: {self.log()}")
                try:
                    if (await http.get(f"{self.url}/healthz", timeout=1)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"bot did not become healthy: {self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]
