"""The running console for tests: `start_console(db, *args)` starts `python -m bot console` as a
child process fed lines on stdin and read on stdout (a pytest plugin, registered in
tests/conftest.py, so every console test file shares it).

Waits poll the output with generous deadlines (the machine is shared and noisy); every started
child is killed when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 45.0


class Console:
    """A running `python -m bot console`; `expect` waits for text after the last match."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._output: list[str] = []
        self._lock = threading.Lock()
        self._seen = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._output.append(line)

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._output)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = DEADLINE) -> re.Match[str]:
        """The first match of `pattern` (a regex) in the output after the previous match."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            output = self.output
            match = regex.search(output, self._seen)
            if match:
                self._seen = match.end()
                return match
            if self.process.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(
                    f"no {pattern!r} in the console output (exit code {self.process.poll()}):\n"
                    f"{self.output[-6000:]}"
                )
            time.sleep(0.05)

    def expect_each(self, *patterns: str, timeout: float = DEADLINE) -> None:
        """Every pattern after the previous match, in whatever order they appear: messages one
        command causes go out side by side (a thread reply and its parent's edit are sent
        concurrently, in lanes of their own), so they print in the order Slack answers them."""
        start = self._seen
        ends = []
        for pattern in patterns:
            self._seen = start
            ends.append(self.expect(pattern, timeout).end())
        self._seen = max(ends)

    def close_stdin_and_wait(self, timeout: float = DEADLINE) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=timeout)


StartConsole = Callable[..., Console]


def spawn_console(db: Path, cwd: Path, env: dict[str, str], *args: str) -> Console:
    """`skyvia-bot console --db db *args` in a child process, its output read as it comes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--db", str(db), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        bufsize=1,
    )
    return Console(process)


@pytest.fixture
def start_console(tmp_path: Path) -> Iterator[StartConsole]:
    started: list[Console] = []

    def start(db: Path, *args: str) -> Console:
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
        # What a developer may have exported must not lead the console anywhere real.
        env.update(
            {
                "PYTHONPATH": str(REPO_ROOT),
                "PYTHONUNBUFFERED": "1",
                "SLACK_BOT_TOKEN": "xoxb-a-real-workspace-token",
                "SLACK_API_URL": "http://127.0.0.1:9/api/",
                "SKYVIA_API_URL": "http://127.0.0.1:9/v1",
                "SKYVIA_API_TOKEN": "a-real-skyvia-token",
            }
        )
        console = spawn_console(db, tmp_path, env, *args)
        started.append(console)
        console.expect(r"^You are @you, a workspace admin, in #ops")
        return console

    try:
        yield start
    finally:
        for console in started:
            if console.process.poll() is None:
                console.process.kill()
            console.process.wait(timeout=30)
