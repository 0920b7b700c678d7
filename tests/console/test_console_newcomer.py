"""Issue 19 in the console, as a newcomer meets it: paging past the end, one-line `alerts`
mistakes, and repeats that change nothing told to the person only.

Each test runs `skyvia-bot console` as a child process (`tests/console/console_kit.py`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.console_kit import DEADLINE, Console, StartConsole

pytestmark = pytest.mark.e2e

ONLY_YOU = r"^\[#ops\] Skyvia Backup Bot · only you\n"
IN_CHANNEL = r"^\[#ops\] Skyvia Backup Bot\n"


def _connected(start_console: StartConsole, db: Path) -> Console:
    console = start_console(db)
    console.send("connect 123")
    console.expect(r"connected to Skyvia workspace Operations \(123\), by @you")
    return console


def _quit(console: Console) -> None:
    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output
    assert "Traceback" not in console.output


def test_paging_past_the_end_says_there_is_only_one_page(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """docs/reference/commands.md#input-rules: a page past the last shows the last one and says
    how many there are, for `backups`, `health` and `snapshots` alike."""
    console = _connected(start_console, tmp_path / "paging.db")

    console.send("backups 2")
    console.expect(r"There is only one page, so this is page 1 \(you asked for page 2\)\.")
    console.expect(r"^  Nightly CRM \(456\)")

    console.send("health 3")
    console.expect(r"Backup health of Operations \(123\)")
    console.expect(r"There is only one page, so this is page 1 \(you asked for page 3\)\.")

    console.send("snapshots 456 2")
    console.expect(r"Snapshots of Nightly CRM \(456\)")
    console.expect(r"There is only one page, so this is page 1 \(you asked for page 2\)\.")
    console.expect(r"^  ✅ \d+ · Succeeded")
    _quit(console)
    assert "page 2 of 1" not in console.output
    assert "No finished snapshots match" not in console.output


def _answer(console: Console) -> str:
    """The next private answer's lines, as printed."""
    return console.expect(ONLY_YOU + r"((?:  .*\n)+)").group(1)


def test_an_alerts_mistake_gets_one_line_and_the_usage_of_that_subcommand_only(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """docs/reference/commands.md#input-rules: what was wrong, a corrected command when one
    parses, else the usage of the one subcommand typed, never all of `alerts`."""
    console = _connected(start_console, tmp_path / "usage.db")

    console.send("alerts mute 456 for 2 hours")
    answer = _answer(console)
    assert "Did you mean `/skyvia alerts mute 456 for 2h`?" in answer, answer
    assert len(answer.strip().splitlines()) == 1, answer

    console.send("alerts stale 456")
    answer = _answer(console)
    assert "/skyvia alerts stale <backupId>" in answer, answer
    for other in ("alerts mention", "alerts mute", "alerts on|off"):
        assert other not in answer, answer
    assert len(answer) < 400, answer

    console.send("alerts unmute")
    answer = _answer(console)
    assert "/skyvia alerts unmute <backupId>" in answer, answer
    assert "alerts stale" not in answer and "alerts mention" not in answer, answer

    console.send("alerts stale 456 90 minutes")
    answer = _answer(console)
    assert "Did you mean `/skyvia alerts stale 456 90m`?" in answer, answer
    _quit(console)


def _private_repeat(console: Console, command: str, said: str) -> None:
    """`command` changed nothing: the person alone hears `said`, the channel hears nothing."""
    console.send(command)
    console.expect(ONLY_YOU + rf"  .*{said}.*nothing changed")


def test_repeats_that_change_nothing_are_told_to_the_person_only(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """docs/reference/messages.md#channel-notices: a request that changes nothing is
    answered to the person only, never to the channel."""
    console = _connected(start_console, tmp_path / "repeats.db")
    _private_repeat(console, "connect 123", r"already connected to Skyvia workspace Operations")

    console.send("alerts mention @you")
    console.expect(IN_CHANNEL + r"  .*set failure alerts here to mention @you")
    _private_repeat(console, "alerts mention @you", r"already mention @you")
    console.send("alerts mention off")
    console.expect(IN_CHANNEL + r"  .*turned off mentions in failure alerts here")
    _private_repeat(console, "alerts mention off", r"already mention nobody")

    console.send("alerts mute 456 for 1h")
    console.expect(IN_CHANNEL + r"  .*muted failure alerts for Nightly CRM \(456\)")
    _private_repeat(console, "alerts mute 456 for 1h", r"Nightly CRM \(456\) are already muted")

    console.send("schedule 462 off for 1h30m")
    console.expect(IN_CHANNEL + r"  .*switched off the schedule of Jira > Confluence \(462\)")
    _private_repeat(
        console, "schedule 462 off for 90m", r"Jira > Confluence \(462\) is already off"
    )
    console.send("status")  # something after the last repeat, so a late channel post shows
    console.expect(r"Connected by @you")
    _quit(console)
    channel_posts = console.output.count("[#ops] Skyvia Backup Bot\n")
    assert channel_posts == 5, console.output  # connect, 2 mentions, the mute, the window
