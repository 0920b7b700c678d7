"""Issue 19 item 2 in the console: the `sim` verbs say what will really happen, a workspace has
enough backups to page through, and `as @member` / `as guest` try the roles.

Each test runs `skyvia-bot console` as a child process (`tests/console/console_kit.py`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.console.console_kit import DEADLINE, Console, StartConsole

pytestmark = pytest.mark.e2e


def _connected(start_console: StartConsole, db: Path, workspace: int = 123) -> Console:
    console = start_console(db)
    console.send(f"connect {workspace}")
    console.expect(rf"connected to Skyvia workspace .+ \({workspace}\), by @you")
    return console


def _quit(console: Console) -> None:
    console.send("quit")
    assert console.process.wait(timeout=DEADLINE) == 0, console.output
    assert "Traceback" not in console.output


def test_sim_stale_after_a_stale_limit_brings_the_alert(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """The order the issue found broken: the limit first (its scan reads the fresh runs), then
    `sim stale`."""
    console = _connected(start_console, tmp_path / "stale.db")
    console.send("alerts stale 456 1h")
    console.expect(r"set the stale limit to \*?1h 00m\*? for Nightly CRM \(456\)")
    time.sleep(8)  # a few scans (every 2 s) read the runs, still fresh, and keep them
    console.send("sim stale 456")
    console.expect(r"the last good snapshot of backup 456 is now two days older")
    console.expect(r"⏰ No good snapshot of Nightly CRM \(456\) for \dd")
    _quit(console)


def test_sim_run_says_when_no_alert_will_come(start_console: StartConsole, tmp_path: Path) -> None:
    console = _connected(start_console, tmp_path / "quiet.db")
    console.send("alerts off")
    console.expect(r"turned failure alerts \*?off\*?")
    console.send("sim fail 456")
    console.send("sim run 456")
    said = console.expect(r"started scheduled snapshot \d+; (.*)\)").group(1)
    assert "alert comes here" not in said and "alerts are off here" in said, said

    console.send("alerts on")
    console.expect(r"turned failure alerts \*?on\*?")
    console.send("alerts mute 457")
    console.expect(r"muted failure alerts for .*\(457\)")
    console.send("sim fail 457")
    console.send("sim run 457")
    said = console.expect(r"backup 457 started scheduled snapshot \d+; (.*)\)").group(1)
    assert "alert comes here" not in said and "muted here" in said, said

    console.send("sim fail 458")
    console.send("sim run 458")
    said = console.expect(r"backup 458 started scheduled snapshot \d+; (.*)\)").group(1)
    assert "the alert comes here" in said, said
    _quit(console)


def test_a_workspace_with_more_than_ten_backups_pages(
    start_console: StartConsole, tmp_path: Path
) -> None:
    console = start_console(tmp_path / "many.db")
    banner = console.output
    found = re.search(r"connect (\d+) has (\d+) backups", banner)
    assert found and int(found.group(2)) > 20, banner
    workspace = int(found.group(1))
    console.send(f"connect {workspace}")
    console.expect(rf"connected to Skyvia workspace .+ \({workspace}\), by @you")
    console.send("backups")
    console.expect(r"· page 1 of \d+ · \d+ backups")
    console.expect(r"\[(\d+)\] Next")
    console.send("backups 2")
    console.expect(r"· page 2 of \d+ · \d+ backups")
    console.send("health")
    console.expect(r"page 1 of 2")
    _quit(console)


def test_as_member_and_as_guest_try_the_roles(start_console: StartConsole, tmp_path: Path) -> None:
    console = _connected(start_console, tmp_path / "roles.db")
    console.send("as @member")
    console.expect(r"You are now @member, a member \(not an admin\)")
    console.send("alerts off")
    console.expect(r"Only admins can turn failure alerts on or off")
    console.send("as guest")
    console.expect(r"You are now @guest, a guest")
    console.send("snapshot 456")
    console.expect(r"Guests can't")
    console.send("as @you")
    console.expect(r"You are now @you, a workspace admin")
    console.send("alerts off")
    console.expect(r"@you turned failure alerts \*?off\*?")
    _quit(console)


def test_sim_digest_brings_the_days_digest_once_and_says_when_none_comes(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """`sim digest` only moves the digest's time to now: without one, or once the day had it,
    it says that none comes, as the timer would post none."""
    console = _connected(start_console, tmp_path / "digest.db")
    console.send("sim digest")
    console.expect(r"no daily digest is set here, so none comes")
    console.send("digest daily 09:00")
    console.expect(r"set a daily health digest for this channel at 09:00 \((?P<zone>[\w/]+)\)")
    console.send("sim digest")
    console.expect(r"the daily digest of this channel is due now")
    console.expect(r"📋 Daily digest of Operations \(123\)")
    console.expect(r"Daily at 09:00 \([\w/]+\), set by @you")
    console.send("sim digest")
    console.expect(r"had the digest of .* already, and it comes once a day, so none comes now")
    _quit(console)
    assert console.output.count("📋 Daily digest of") == 1, console.output


def test_a_dm_prints_as_a_dm_and_says_whose_it_is(
    start_console: StartConsole, tmp_path: Path
) -> None:
    """A subscriber's DM is posted to the person's user id: it prints as a DM, not as a channel
    named by that id, and one sent to someone else says to whom."""
    console = _connected(start_console, tmp_path / "dm.db")
    console.send("as @member")
    console.send("subscribe 456")
    console.expect(r"You will get failures and recoveries of backup 456")
    console.send("as @you")
    console.send("subscribe 456")
    console.expect(r"You will get failures and recoveries of backup 456")
    console.send("sim fail 456")
    console.send("sim run 456")
    console.expect_each(
        r"^\[DM to @member from Skyvia Backup Bot\]\n  ❌ Snapshot \d+ of Nightly CRM \(456\)",
        r"^\[DM from Skyvia Backup Bot\]\n  ❌ Snapshot \d+ of Nightly CRM \(456\)",
    )
    _quit(console)
    assert not re.search(r"^\[#U0", console.output, re.M), console.output
