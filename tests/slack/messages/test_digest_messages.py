"""The health summary line (`health`'s first line and the digest's) and the digest itself:
which backups it names, and how it says the failing ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from bot.services.announcements import DigestDue
from bot.services.digests import DigestSetting
from bot.services.models import BackupHealth, WorkspaceHealth
from bot.skyvia.models import Backup, Snapshot, SnapshotState
from bot.slack.messages.health import DIGEST_LINES, digest_message, health_summary

T0 = datetime(2026, 5, 10, 12, tzinfo=UTC)
OK, FAIL = SnapshotState.SUCCEEDED, SnapshotState.FAILED


def item(backup_id: int, *states: SnapshotState) -> BackupHealth:
    """Runs newest first, an hour apart, the newest an hour before T0."""
    runs = tuple(
        Snapshot.model_validate(
            {
                "snapshotId": backup_id * 100 + i,
                "state": state,
                "startTime": (T0 - timedelta(hours=i + 1)).isoformat(),
            }
        )
        for i, state in enumerate(states)
    )
    return BackupHealth(backup=Backup(id=backup_id, name=f"B{backup_id}"), runs=runs, muted=False)


def workspace(*items: BackupHealth) -> WorkspaceHealth:
    return WorkspaceHealth(workspace_id=123, workspace_name="Operations", backups=list(items))


def epoch(hours_before_t0: int) -> str:
    return f"<!date^{int((T0 - timedelta(hours=hours_before_t0)).timestamp())}^"


def test_the_summary_counts_healthy_and_says_since_when_one_fails() -> None:
    assert health_summary(workspace(item(1, OK), item(2, OK))) == "2 of 2 backups healthy"
    one = health_summary(workspace(item(1, OK), item(2, FAIL, FAIL, OK)))
    assert one.startswith("1 of 2 backups healthy; 1 failing since " + epoch(2))
    assert health_summary(workspace()) == "No backups in this workspace."


def test_with_several_failing_the_summary_names_the_longest() -> None:
    text = health_summary(workspace(item(1, FAIL, OK), item(2, FAIL, FAIL, FAIL, OK), item(3, OK)))
    assert text.startswith("1 of 3 backups healthy; 2 failing, the longest since " + epoch(3))


def due(health: WorkspaceHealth) -> DigestDue:
    setting = DigestSetting(at=time(9), tz="Europe/Berlin", set_by="U0DANA", next_at=T0)
    return DigestDue(
        date(2026, 5, 10),
        setting,
        health,
        datetime(2026, 5, 10, 7, tzinfo=UTC),
    )


def test_the_digest_names_only_backups_that_are_not_healthy_up_to_its_limit() -> None:
    failing = [item(i, FAIL) for i in range(1, DIGEST_LINES + 3)]
    message = digest_message(due(workspace(*failing, item(99, OK))))
    blocks = message.to_dict()["blocks"]
    text = str(blocks)
    assert "Daily digest of Operations" in message.text
    lines = [b["text"]["text"] for b in blocks[1:] if b["type"] == "section"]
    assert len(lines) == DIGEST_LINES and all(line.startswith(":x: *B") for line in lines)
    assert "…and 2 more: `/skyvia health` lists them all" in text
    assert "B99" not in text  # healthy: counted, not listed
    assert "Daily at 09:00 (Europe/Berlin), set by <@U0DANA>" in text


def test_a_healthy_workspace_digest_has_no_lines_and_no_more() -> None:
    message = digest_message(due(workspace(item(1, OK), item(2, OK))))
    text = str(message.to_dict()["blocks"])
    assert "2 of 2 backups healthy" in text and ":x:" not in text and "more:" not in text


def test_the_digest_says_which_failing_backups_nobody_is_on() -> None:
    taken = replace(item(1, FAIL, OK), takers=("U0DANA", "U0LEE"))
    health = workspace(taken, item(2, FAIL, FAIL, OK), item(3, OK))
    message = digest_message(due(health))
    assert "; nobody is on 1 of them" in message.text
    lines = [b["text"]["text"] for b in message.to_dict()["blocks"][1:] if b["type"] == "section"]
    by_name = {line.split("*")[1]: line for line in lines}
    assert by_name["B2"].endswith(":raising_hand: nobody on it")
    assert by_name["B1"].endswith(":eyes: <@U0DANA> and <@U0LEE> are on it")
    assert "B3" not in by_name  # healthy: no line, so no "nobody on it" either
    only = health_summary(workspace(item(2, FAIL, OK)))
    assert only.endswith("; nobody is on it")
    assert "nobody" not in health_summary(workspace(replace(item(2, FAIL), takers=("U0A",))))
    assert "nobody is on any of them" in health_summary(workspace(item(1, FAIL), item(2, FAIL)))
