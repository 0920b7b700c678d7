"""`skyvia-bot console` as a person uses it: a child process fed lines on stdin, read on stdout.

Waits poll the output with generous deadlines (the machine is shared and noisy); each test kills
its child in a `finally`, whatever happened.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sqlite3
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from bot.simulator import DEFAULT_TOKEN
from tests.console.console_kit import DEADLINE, REPO_ROOT, StartConsole

pytestmark = pytest.mark.e2e  # each test runs `skyvia-bot console` as a child process


def test_help_connect_backups_snapshot_and_its_thread_reply(
    start_console: StartConsole, tmp_path: Path
) -> None:
    db = tmp_path / "console.db"
    console = start_console(db)

    console.send("help")
    own = console.expect(r"^Console commands.*\n((?:  .*\n)+)").group(1)
    for verb in ("N or click N", "home", "sim fail <backupId>", "sim run <backupId>", "quit"):
        assert verb in own, own
    help_text = console.expect(r"Skyvia Backup Bot · only you\n((?:  .*\n)+)").group(1)
    for word in ("connect", "disconnect", "status", "backups", "snapshots", "schedule", "alerts"):
        assert f"/skyvia {word}" in help_text

    console.send("connect 123")
    console.expect(r"connected to Skyvia workspace Operations \(123\), by @you")

    console.send("/skyvia backups")
    console.expect(r"^  Backups of Operations \(123\) · page 1 of 1 · 8 backups$")
    console.expect(r"^  Nightly CRM \(456\)\n  🟢 schedule on · ✅ last run succeeded ")
    console.expect(
        r"^  ⋯ \[\d+\] Run snapshot  \[\d+\] Disable schedule  \[\d+\] Details  \[\d+\] Mute$"
    )

    console.send("snapshot 456")
    console.expect(
        r"^\[#ops\] Skyvia Backup Bot\n  \S+ Snapshot of Nightly CRM \(456\) is (starting|queued|"
        r"running)\n  Started by @you · snapshot (\d+)"
    )
    reply = console.expect(
        r"^\[#ops › thread of “[^”]*Nightly CRM \(456\)[^”]*”\] Skyvia Backup Bot\n      (.*)"
    )
    assert reply.group(1).startswith("@you ✅ Succeeded")
    console.expect(
        r"^\[#ops\] Skyvia Backup Bot \(updated\)\n  ✅ Snapshot of Nightly CRM \(456\) succeeded"
    )

    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output
    assert "Bye." in console.output
    assert "Traceback" not in console.output
    # The session lived in the given file: the binding is there after the console has gone.
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT channel_id, workspace_id FROM bindings").fetchall()
    assert rows == [("C0OPS", 123)]


def test_buttons_ask_to_confirm_and_a_kept_database_remembers_the_channel(
    start_console: StartConsole, tmp_path: Path
) -> None:
    db = tmp_path / "kept.db"
    first = start_console(db)
    first.send("connect 123")
    first.expect(r"connected to Skyvia workspace Operations \(123\)")
    assert first.close_stdin_and_wait() == 0, first.output  # EOF ends the session

    console = start_console(db)
    console.send("status")
    console.expect(r"connected to Skyvia workspace Operations \(123\)")

    console.send("backup 456")
    row = console.expect(r"^  \[(\d+)\] Run snapshot  \[\d+\] Disable schedule")
    run_button = row.group(1)

    console.send(run_button)
    console.expect(r"\? Run a snapshot\? — Start a snapshot of Nightly CRM \(456\) now\?")
    console.send("n")
    console.expect(r"\(cancelled\)")

    console.send(f"click {run_button}")
    console.expect(r"\? Run a snapshot\?")
    console.send("y")
    console.expect(r"Snapshot of Nightly CRM \(456\) is \w+\n  Started by @you")

    console.send("click 999")
    console.expect(r"There is no button \[999\] on screen\.")
    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output
    assert "Traceback" not in console.output
    # Cancelled means nothing was sent: one snapshot card, not two.
    assert (
        len(re.findall(r"^\[#ops\] Skyvia Backup Bot\n  \S+ Snapshot of", console.output, re.M))
        == 1
    )


def test_connect_without_an_id_asks_the_modal_questions(
    start_console: StartConsole, tmp_path: Path
) -> None:
    console = start_console(tmp_path / "modal.db")
    console.send("connect")
    console.expect(r"^\[modal\] Connect Skyvia")
    console.send("twelve")  # workspace id
    console.send("")  # the token is required
    console.expect(r"Access token is required\.")
    console.send(DEFAULT_TOKEN)
    # The bot refuses the id in the modal; only that field is asked again, the token is kept.
    console.expect(r"⚠️ Workspace id: .+")
    console.send("123")
    console.expect(r"connected to Skyvia workspace Operations \(123\), by @you")
    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output
    # The transcript masks what was typed into the token field.
    assert "Access token: ••••••••" in console.output
    assert f"Access token: {DEFAULT_TOKEN}" not in console.output


def test_on_a_terminal_a_failure_alert_arrives_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    """Through a pseudo-terminal, as a person runs it: prompts, an unprompted alert, Ctrl-C."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update({"PYTHONPATH": str(REPO_ROOT), "TERM": "dumb"})
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the console
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "bot", "console"], env)
    screen = PtyScreen(fd)
    try:
        screen.expect(r"/skyvia $")  # the prompt
        screen.send("connect 123")
        screen.expect(r"connected to Skyvia workspace Operations \(123\)")
        screen.send("sim fail 456")
        screen.expect(r"the next snapshot of backup 456 will fail")
        screen.send("sim run 456")
        screen.expect(
            r"^\[#ops\] Skyvia Backup Bot\n  ❌ Scheduled snapshot of Nightly CRM \(456\)"
        )
        screen.expect(
            r"^  \[\d+\] Run snapshot  \[\d+\] I'm on it  \[\d+\] Show log  "
            r"Mute this backup: \[\d+\] Mute"
        )
        os.write(fd, b"\x03")  # Ctrl-C
        screen.expect(r"^Bye\.$")
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 0, screen.text
        assert "Traceback" not in screen.text
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


class PtyScreen:
    """What a terminal shows, without carriage returns and line clearing."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""
        self._raw = b""
        self._seen = 0

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def expect(self, pattern: str, timeout: float = DEADLINE) -> re.Match[str]:
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.text, self._seen)
            if match:
                self._seen = match.end()
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on the terminal:\n{self.text[-6000:]}")
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    time.sleep(0.1)
                self._raw += chunk
                self.text = _as_shown(self._raw.decode("utf-8", errors="replace"))


def _as_shown(raw: str) -> str:
    """Terminal output as it ends up on screen: `\\r ESC[K` clears the line it is on."""
    lines: list[str] = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        lines.append(line.rsplit("\r\x1b[K", 1)[-1].replace("\r", ""))
    return "\n".join(lines)


def _minutes_from_now(shown: str) -> float:
    """How far from now a time reads, as the console writes it like Slack in the local zone:
    "just now", "3 minutes ago", or "Today at 14:15"."""
    if shown == "just now":
        return 0.0
    if ago := re.fullmatch(r"(\d+) minutes? ago", shown):
        return float(ago.group(1))
    clock = datetime.strptime(shown.removeprefix("Today at "), "%H:%M").time()
    now = datetime.now().astimezone()
    moment = datetime.combine(now.date(), clock, now.tzinfo)
    return abs((moment - now).total_seconds()) / 60


def test_a_sped_up_simulator_shows_times_on_the_bots_clock(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """At ×5000 a few seconds are hours of simulated time: every time shown must still be now."""
    console = start_console(tmp_path / "console.db", "--speed", "5000")
    console.send("connect 123")
    console.expect(r"connected to Skyvia workspace Operations \(123\)")
    time.sleep(3)  # hours of simulated time
    console.send("snapshot 456")
    started = console.expect(r"Started by @you · snapshot (\d+) · (?:queued )?(just now|.+ ago)")
    console.expect(r"✅ Snapshot of Nightly CRM \(456\) succeeded")
    console.send("status")
    connected = console.expect(r"Connected by @you · (Today at \d\d:\d\d)")
    assert _minutes_from_now(connected.group(1)) <= 2
    assert _minutes_from_now(started.group(2)) <= 2, console.output
    console.send("snapshots 456")
    listed = console.expect(rf"✅ {started.group(1)} · Succeeded · (Today at \d\d:\d\d)")
    assert _minutes_from_now(listed.group(1)) <= 2, console.output
    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output


def test_a_failure_while_muted_stays_unannounced_after_unmute(
    start_console: StartConsole, tmp_path: Path
) -> None:
    console = start_console(tmp_path / "console.db")
    console.send("connect 123")
    console.expect(r"connected to Skyvia workspace Operations \(123\)")
    console.send("alerts mute 456")
    console.expect(r"muted")
    console.send("sim fail 456")
    console.send("sim run 456")
    console.expect(r"started scheduled snapshot (\d+); it will fail")
    time.sleep(6)  # the run ends and the scanner passes it over (a few scans)
    console.send("alerts unmute 456")
    console.expect(r"unmuted")
    time.sleep(6)  # scans after the unmute
    console.send("sim fail 457")  # a later failure of another backup still comes
    console.send("sim run 457")
    console.expect(r"❌ Scheduled snapshot of \S+.* \(457\)")
    assert "Scheduled snapshot of Nightly CRM (456)" not in console.output
    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output


def test_sim_verbs_show_a_failure_episode_and_a_stale_backup(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """Fail a backup twice, recover it, then make it stale: the episode and the stale alert."""
    console = start_console(tmp_path / "episode.db")
    console.send("connect 123")
    console.expect(r"connected to Skyvia workspace Operations \(123\), by @you")

    console.send("sim fail 456 2")
    console.expect(r"the next 2 snapshots of backup 456 will fail")
    console.send("sim run 456")
    console.expect(r"^\[#ops\] Skyvia Backup Bot\n  ❌ Scheduled snapshot of Nightly CRM \(456\)")
    console.send("sim run 456")
    console.expect_each(
        r"^\[#ops › thread of .*\n      ❌ Snapshot \d+ failed too \(2 failed snapshots",
        r"Nightly CRM \(456\) is failing — 2 failed snapshots in a row since",
    )
    console.send("sim recover 456")
    console.expect_each(
        r"      ✅ Recovered: snapshot \d+ succeeded after 2 failures \(failing for",
        r"✅ Nightly CRM \(456\) recovered after 2 failures",
    )

    console.send("sim stale 456")
    console.expect(r"the last good snapshot of backup 456 is now two days older")
    console.send("alerts stale 456 1h")
    console.expect(
        r"⏰ No good snapshot of Nightly CRM \(456\) for \dd \d+h \(it usually runs every"
    )
    console.send("sim wat 456")
    console.expect(r"^Usage: sim fail <backupId> \[times\]")

    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output
    assert "Traceback" not in console.output
