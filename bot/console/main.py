"""`skyvia-bot console`: the README's "try it now", with no Slack workspace and no Skyvia account.

The bot's logs go to a file, not the terminal: the terminal is the channel, and a stray log line
in the middle of a conversation reads like a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.console.help_text import CONSOLE_HELP
from bot.console.session import ConsoleSession
from bot.console.stack import CHANNEL_NAME, USER_NAME, running_console_stack
from bot.console.terminal import Terminal
from bot.logging_setup import SecretFilter, configure_logging
from bot.simulator import DEFAULT_TOKEN
from bot.simulator.seed import PAGING_WORKSPACE, paging_seed

DEFAULT_SPEED = 20.0
"""Simulator speed: a 20-second snapshot of the default data ends in about a second."""

log = logging.getLogger("bot.console")


def banner(*, database: Path, log_path: Path, speed: float, temporary: bool) -> str:
    kept = "removed on exit" if temporary else "kept"
    return (
        "Skyvia Backup Bot — console. The real bot runs here against the Skyvia simulator "
        f"(speed ×{speed:g}) and a local stand-in for Slack.\n"
        f"You are @{USER_NAME}, a workspace admin, in #{CHANNEL_NAME}. Try: connect 123, backups, "
        f"snapshot 456, status. To try paging: connect {PAGING_WORKSPACE} has "
        f"{len(paging_seed().workspaces[0].backups)} backups.\n"
        f"{CONSOLE_HELP}\n"
        f"A modal that asks for a Skyvia access token takes the simulator's: {DEFAULT_TOKEN}\n"
        f"Database: {database} ({kept}) · bot log: {log_path} (removed on exit)"
    )


async def run_console(
    *,
    db: Path | None = None,
    speed: float = DEFAULT_SPEED,
    clock: datetime | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    terminal = Terminal(stdin or sys.stdin, stdout or sys.stdout)
    with tempfile.TemporaryDirectory(prefix="skyvia-console-") as tmp:
        database = _database_path(db, Path(tmp))
        log_path = Path(tmp) / "bot.log"
        with _logging_to(log_path) as secret_filter:
            terminal.show("Starting the simulator, the Slack stand-in and the bot…")
            async with running_console_stack(
                database_url=f"sqlite+aiosqlite:///{database}", speed=speed
            ) as stack:
                for secret in stack.secrets():
                    secret_filter.add(secret)
                terminal.show(
                    banner(database=database, log_path=log_path, speed=speed, temporary=db is None)
                )
                # `--clock`: every time shown is as if the simulator had started at `clock`.
                sim_clock = stack.sim.state.clock
                started = sim_clock.to_real(sim_clock.origin)
                shift = clock - started if clock is not None else timedelta(0)
                session = ConsoleSession(stack, terminal.show, shift=shift)
                events = stack.slack.subscribe()
                follower = asyncio.create_task(session.follow(events), name="console-output")
                try:
                    await _conversation(terminal, session)
                finally:
                    follower.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await follower
                    stack.slack.unsubscribe(events)
                terminal.show("Stopping…")
    terminal.show("Bye.")
    return 0


async def _conversation(terminal: Terminal, session: ConsoleSession) -> None:
    """Lines until EOF, `quit`, Ctrl-C or SIGTERM; each line is handled before the next is read."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    try:
        while True:
            reading = asyncio.create_task(terminal.read_line(session.prompt))
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                return
            line = reading.result()
            if line is None:
                return
            if not terminal.interactive:
                terminal.show(session.echo(line))  # a piped session's transcript
            if not await session.handle_line(line):
                return
    finally:
        stopping.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


def _database_path(db: Path | None, tmp: Path) -> Path:
    if db is None:
        return tmp / "console.db"
    database = db.expanduser().resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    return database


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[SecretFilter]:
    """The bot's usual log format and secret scrubbing, written to `path` instead of stderr."""
    secret_filter: SecretFilter = configure_logging("INFO", "text")
    handler = logging.getLogger().handlers[0]
    stream = path.open("a", encoding="utf-8")
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield secret_filter
    finally:
        logging.getLogger().removeHandler(handler)
        stream.close()
