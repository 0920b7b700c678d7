"""A Python child process on a free port, as tests and benchmarks run the bot and its doubles.

`python -m bot run --http` as a separate process is the only way to show what a real process
does (SIGKILL, restarts, two replicas, CPU and memory figures). The process logs to a file
(the test's or benchmark's evidence), is ready when an HTTP path answers 200, and is stopped
with SIGTERM and then, if it hangs, SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.devtools.ports import free_port
from bot.devtools.waiting import poll

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ChildProcess:
    """`python <args>` with `env` over this process's environment, serving on `port`.

    `PORT` is set to `port`; variables named in `unset` are removed (e.g. a test-only setting
    the child must not see). Starting again after a stop reuses the port and appends to the log.
    """

    args: Sequence[str]
    env: dict[str, str]
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    unset: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """None while running (or never started), else the exit code (-9 after SIGKILL)."""
        return None if self.process is None else self.process.poll()

    def spawn(self, log_path: Path | None = None) -> subprocess.Popen[bytes]:
        """Starts the process without waiting for it; output goes to `log_path` (appended)."""
        if log_path is not None:
            self.log_path = log_path
        assert self.log_path is not None, "a child process needs a log file"
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        for name in self.unset:
            env.pop(name, None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and args
                [sys.executable, *self.args],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process

    async def wait_ready(self, path: str = "/healthz", timeout: float = 60.0) -> None:
        """Waits until `path` answers 200; raises with the log's tail if it exits or times out."""
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"{self.args} exited early:\n{self.tail()}")
                try:
                    return (await http.get(self.url + path, timeout=1)).status_code == 200
                except httpx.HTTPError:
                    return False

            held, _ = await poll(ready, timeout=timeout, interval=0.1)
        if not held:
            raise RuntimeError(f"{self.args} did not become ready:\n{self.tail()}")

    async def start(
        self, log_path: Path | None = None, *, ready_path: str = "/healthz", timeout: float = 60.0
    ) -> None:
        """Spawns the process and waits until `ready_path` answers 200."""
        self.spawn(log_path)
        await self.wait_ready(ready_path, timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a graceful shutdown), SIGKILL after `timeout`; returns the exit code."""
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

    def tail(self, chars: int = 4000) -> str:
        """The end of the log, for failure messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]
