"""The soak at its smallest size: half a minute on SQLite, one SIGKILL, no database restart,
Slack's tiers on in the stand-in.

What must hold at any speed: traffic really ran (commands started runs, scheduled runs failed,
the bot was killed and came back), the table counts every expected reply and alert, none
twice and none missing, and retention pruned the aged rows the soak seeded.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import soak
from benchmarks.__main__ import main

SMALLEST = replace(soak.SoakSizes(), minutes=0.5, kill_every=15.0, pg_restart=False, drain=150)

pytestmark = pytest.mark.timeout(300)


@pytest.mark.e2e
async def test_a_short_soak_delivers_every_message_once(tmp_path: Path) -> None:
    table = await soak.run(SMALLEST, True, tmp_path)
    figures = table.figures

    assert figures["kills"] == 1
    assert figures["replicas"] == 1  # SQLite: a single process
    assert "slack_429" in figures  # Slack's tiers on in the stand-in, as by default
    assert figures["pg_restarts"] == 0
    assert figures["commands_sent"] > 0
    assert figures["expected"] > 0
    assert figures["delivered"] == figures["expected"], table.render()
    assert figures["lost"] == 0, table.render()
    assert figures["duplicated"] == 0, table.render()
    assert figures["unexpected"] == 0, table.render()
    assert 0 < figures["peak_rss_mb"] < 2048
    # The aged rows are gone; the soak's own rows (younger than their floors) are not.
    aged = SMALLEST.aged_rows
    deleted = figures["retention_deleted"]
    assert deleted["clicks"] >= aged and deleted["deliveries"] >= aged
    assert deleted["watches"] >= aged and deleted["audit"] >= aged
    assert figures["rows_after"]["deliveries"] >= figures["delivered"]
    assert table.render().startswith("### Soak")


def test_the_soak_command_line_rejects_a_bad_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["soak", "--minutes", "soon"])
    assert "invalid float value" in capsys.readouterr().err
