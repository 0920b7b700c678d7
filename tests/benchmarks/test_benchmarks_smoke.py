"""The benchmarks at their smallest size: every section runs and its counts add up.

No timing is asserted (the machine is shared and noisy); what must hold at any speed is that
the work was done, once: every command answered, every watch replied to once, one failure scan
per backup per interval, every channel alerted once per failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.__main__ import SMOKE, main, run_sections

pytestmark = pytest.mark.timeout(180)


@pytest.mark.e2e
async def test_every_section_produces_a_table_with_sane_counts(tmp_path: Path) -> None:
    tables = await run_sections(SMOKE, ["ack", "watch", "alerts"], None, tmp_path)

    ack = tables["ack"].figures
    assert ack["requests"] == SMOKE.ack.requests
    assert ack["bot_non_200"] == 0 and ack["bare_non_200"] == 0
    assert ack["status_answered"] == SMOKE.ack.requests // 2
    assert ack["snapshot_cards"] == SMOKE.ack.requests // 2
    assert ack["p99_ms"] >= ack["p50_ms"] > 0
    # The same load again while an alert wave goes out: every command answered, every alert once.
    assert ack["wave_requests"] == SMOKE.ack.requests and ack["wave_bot_non_200"] == 0
    assert ack["wave_status_answered"] == ack["wave_snapshot_cards"] == SMOKE.ack.requests // 2
    assert ack["wave_alerts"] == ack["wave_alerts_expected"] == SMOKE.ack.wave_alerts()
    assert ack["wave_p99_ms"] >= ack["wave_p50_ms"] > 0

    watch = tables["watch"].figures
    assert watch["replies"] == SMOKE.watch.watches
    assert watch["duplicates"] == 0
    assert watch["card_updates"] >= SMOKE.watch.watches
    assert watch["skyvia_calls_per_watch"] >= 1.0
    assert watch["slack_calls_per_watch"] >= 2.0
    assert 0 < watch["peak_rss_mb"] < 2048

    alerts = tables["alerts"].figures
    backups = SMOKE.alerts.workspaces * SMOKE.alerts.backups_per_workspace
    assert alerts["backups"] == backups
    assert (
        alerts["alerts"]
        == alerts["expected_alerts"]
        == (SMOKE.alerts.workspaces * SMOKE.alerts.channels_per_workspace)
        * SMOKE.alerts.backups_per_workspace
    )
    assert alerts["duplicates"] == 0
    assert alerts["log_calls"] >= backups  # the log of each failure is fetched
    # One list call per backup per interval, whatever the channel count (rounding: one scan).
    assert alerts["steady_list_calls_per_backup_interval"] <= 1.5
    assert alerts["scan_rounds"] > 0  # read from the bot's /metrics while it alerted

    for table in tables.values():
        rendered = table.render()
        assert rendered.startswith("### ") and "|" in rendered


@pytest.mark.e2e
async def test_the_episode_section_delivers_every_message_of_every_episode_once(
    tmp_path: Path,
) -> None:
    """docs/reference/messages.md#failure-episodes at fan-out: 3 failures and a success per
    backup, each message and header edit once in every channel, no extra list call."""
    tables = await run_sections(SMOKE, ["episodes"], None, tmp_path)

    figures = tables["episodes"].figures
    sizes = SMOKE.episodes
    n = sizes.workspaces * sizes.channels_per_workspace * sizes.backups_per_workspace
    assert figures["per_event"] == n
    assert figures["expected"] == {
        "alert": n,
        "episode_reply": 2 * n,
        "episode_header": 2 * n,
        "recovered": n,
        "recovered_header": n,
    }
    assert figures["delivered"] == figures["expected"]
    assert figures["duplicates"] == 0 and figures["unexpected"] == 0
    assert figures["waves_delivered"] == [True] * 4
    # One post per event per channel; an edit of the header for each but the first failure.
    posts = [calls.get("chat.postMessage", 0) for calls in figures["slack_calls"]]
    edits = [calls.get("chat.update", 0) for calls in figures["slack_calls"]]
    assert posts == [n] * 4 and edits == [0, n, n, n]
    assert figures["log_calls"] == sizes.workspaces * sizes.backups_per_workspace * 3
    assert figures["open_list_calls_per_backup_per_interval"] <= 1.5  # rounding: one scan
    assert figures["list_calls_per_backup_per_interval"] <= 1.5
    assert tables["episodes"].render().startswith("### Failure episodes")


@pytest.mark.e2e
async def test_under_slack_tiers_every_message_arrives_once_without_learning_the_pace_by_429(
    tmp_path: Path,
) -> None:
    """Delivery at Slack's pace with the stand-in's tiers on: every reply, alert and card edit,
    few 429s, and no minute over a tier (one replica: SQLite; the two-replica run needs
    PostgreSQL)."""
    tables = await run_sections(SMOKE, ["tiers"], None, tmp_path)

    (outcome,) = tables["tiers"].figures["outcomes"]
    sizes = SMOKE.tiers
    assert outcome["replicas"] == 1
    assert outcome["replies"] == sizes.watches
    assert (
        outcome["alerts"]
        == outcome["expected_alerts"]
        == sizes.failures * (sizes.channels // sizes.workspaces)
    )
    assert outcome["duplicates"] == 0
    assert outcome["cards"] == sizes.watches
    assert outcome["slack_429"] <= 0.05 * outcome["slack_calls"]
    assert outcome["busiest_minute"]["chat.update"] <= 60  # Tier 3: 50 a minute + burst 10
    assert tables["tiers"].render().startswith("### Under Slack's tiers")


@pytest.mark.e2e
async def test_the_overdue_section_tells_every_long_run_once_within_the_skyvia_budget(
    tmp_path: Path,
) -> None:
    """docs/reference/guarantees.md#speed-and-scale with every check on: each long run told
    once per channel past its limit, its end once, list calls per backup per interval within
    1.2, `/active` only for runs believed going."""
    tables = await run_sections(SMOKE, ["overdue"], None, tmp_path)

    figures = tables["overdue"].figures
    sizes = SMOKE.overdue
    long_runs = sizes.workspaces * -(-sizes.backups_per_workspace // sizes.every)
    assert 0 < figures["expected_notes"] <= long_runs * sizes.channels_per_workspace
    assert figures["notes"] == figures["ends"] == figures["expected_notes"]
    assert figures["duplicates"] == 0
    assert figures["list_calls_per_backup_interval_going"] <= 1.2
    assert figures["list_calls_per_backup_interval_steady"] <= 1.2
    assert 0 < figures["active_calls_most_long_run"] <= figures["active_intervals"] + 1
    assert figures["active_calls_most_normal_run"] <= 1  # within its limits: asked once
    assert figures["active_calls_most_idle"] <= 1  # once per shortest limit (15 min)
    assert figures["active_calls_steady"] == 0  # nothing going, nothing due: never asked
    assert figures["details_calls_ending"] == long_runs  # one per run told, for its end
    assert tables["overdue"].render().startswith("### Runs that take unusually long")


def test_the_command_line_rejects_an_unknown_section(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "nonsense"])
    assert "invalid choice" in capsys.readouterr().err
