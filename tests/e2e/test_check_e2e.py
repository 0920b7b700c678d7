"""`skyvia-bot check` as a newcomer runs it (issue 19 item 3): a check creates no state, and
what it could not check is a failure, not "ok".

Runs the real CLI as a child process in an empty folder with the default database URL (a
SQLite file in the working directory).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bot.devtools.slack_standin import FakeSlack
from bot.simulator import RunningSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]


def check_in(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "SKYVIA_", "DATABASE_", "TEST_DATABASE"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=folder,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_check_in_an_empty_folder_creates_nothing_and_fails_on_the_missing_database(
    tmp_path: Path,
) -> None:
    result = check_in(tmp_path, SKYVIA_API_URL="http://127.0.0.1:9/v1")  # nothing real
    assert list(tmp_path.iterdir()) == [], result.stdout
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    database = next(line for line in lines if " database:" in line)
    assert database.startswith("FAIL") and "skyvia-bot migrate" in database, lines
    assert not any(line.startswith("ok") and "not checked" in line for line in lines), lines
    assert "Traceback" not in result.stderr


async def test_check_of_a_database_without_tables_says_so(
    fake_slack: FakeSlack, simulator: RunningSimulator, tmp_path: Path
) -> None:
    (tmp_path / "skyvia-bot.db").touch()  # exists, never migrated
    # In a thread: the stand-ins serve on this test's event loop, which must keep running.
    result = await asyncio.to_thread(
        check_in,
        tmp_path,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SLACK_API_URL=fake_slack.api_url,
        SKYVIA_API_URL=simulator.base_url,
        SKYVIA_API_TOKEN=simulator.token,
    )
    assert names_in(tmp_path) == ["skyvia-bot.db"], result.stdout
    stored = next(line for line in result.stdout.splitlines() if "stored tokens" in line)
    assert stored.startswith("FAIL") and "skyvia-bot migrate" in stored, result.stdout
    assert result.returncode == 1
