"""Block Kit's limits and the builders' own caps, each tried at the limit, one under and one over.

A flipped comparison or an off-by-one in any of them changes an exact output here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import DividerBlock
from slack_sdk.models.views import View

from bot.services.models import BackupLimits, ChannelBinding, RecentFailure, WatchedRun
from bot.skyvia.models import Backup, Snapshot, SnapshotState
from bot.slack import messages as blocks
from bot.slack.grammar.mentions import MAX_MENTIONS
from bot.slack.grammar.parsing import MAX_PAGE
from bot.slack.messages import HomeChannel, common
from bot.slack.messages.alerts import ALERT_LOG_LINES
from bot.slack.messages.backups import BACKUPS_PAGE_SIZE, LAST_SNAPSHOTS_SHOWN
from bot.slack.messages.ids import ActionId
from bot.slack.messages.snapshots import LOG_LINES, LOG_SECTIONS
from tests.slack.messages.blockkit import (
    all_text,
    backups_listing,
    buttons,
    message_dict,
    row_menus,
    view_dict,
)

T0 = datetime(2023, 10, 2, 14, 15, 15, tzinfo=UTC)
EDGES = [-1, 0, 1]


def cut(length: int, limit: int) -> str:
    return "x" * length if length <= limit else "x" * (limit - 1) + "…"


@pytest.mark.parametrize("delta", EDGES)
def test_section_context_and_fallback_text_at_3000(delta: int) -> None:
    length = 3000 + delta
    assert common.section("x" * length).to_dict()["text"]["text"] == cut(length, 3000)
    element = common.context("x" * length).to_dict()["elements"][0]
    assert element["text"] == cut(length, 3000)
    assert common.fallback("x" * length) == cut(length, 3000)


@pytest.mark.parametrize("delta", EDGES)
def test_button_label_at_75(delta: int) -> None:
    length = 75 + delta
    data = common.button("x" * length, ActionId.SHOW_LOG).to_dict()
    assert data["text"]["text"] == cut(length, 75)


@pytest.mark.parametrize("delta", EDGES)
def test_confirm_dialog_at_its_four_limits(delta: int) -> None:
    data = common.confirm_dialog(
        title="t" * (100 + delta),
        text="x" * (300 + delta),
        confirm="c" * (30 + delta),
        deny="d" * (30 + delta),
    ).to_dict()
    assert data["text"]["text"] == cut(300 + delta, 300)
    assert data["title"]["text"] == cut(100 + delta, 100).replace("x", "t")
    assert data["confirm"]["text"] == cut(30 + delta, 30).replace("x", "c")
    assert data["deny"]["text"] == cut(30 + delta, 30).replace("x", "d")


def test_a_message_holds_exactly_50_blocks() -> None:
    common.Message(text="x", blocks=[DividerBlock()] * 50)
    with pytest.raises(ValueError, match="51 blocks"):
        common.Message(text="x", blocks=[DividerBlock()] * 51)


# -- pages ----------------------------------------------------------------------------------------


def labels(data: dict) -> list[str]:  # type: ignore[type-arg]
    return [b["text"]["text"] for b in buttons(data["blocks"])]


@pytest.mark.parametrize(
    ("count", "shown", "next_"), [(9, 9, False), (10, 10, False), (11, 10, True)]
)
def test_backups_page_size_edges(count: int, shown: int, next_: bool) -> None:
    many = [Backup(id=i, name=f"B{i}") for i in range(1, count + 1)]
    data = message_dict(blocks.backups_page_message(backups_listing(many, 1, False), 123))
    assert len(row_menus(data["blocks"])) == shown == min(count, BACKUPS_PAGE_SIZE)
    assert ("Next" in labels(data)) is next_


@pytest.mark.parametrize(("page", "next_"), [(MAX_PAGE - 1, True), (MAX_PAGE, False)])
def test_no_next_page_beyond_the_last_page_a_command_can_ask_for(page: int, next_: bool) -> None:
    backups = [Backup(id=1, name="B")]
    data = message_dict(blocks.backups_page_message(backups_listing(backups, page, True), 123))
    assert ("Next" in labels(data)) is next_
    snapshot = _snapshot(1)
    data = message_dict(
        blocks.snapshots_page_message(Backup(id=1, name="B"), [snapshot], page, has_more=True)
    )
    assert ("Next" in labels(data)) is next_
    assert "Previous" in labels(data)


@pytest.mark.parametrize(
    ("count", "shown", "next_"), [(9, 9, False), (10, 10, False), (11, 10, True)]
)
def test_snapshots_page_size_edges(count: int, shown: int, next_: bool) -> None:
    snapshots = [_snapshot(i) for i in range(1, count + 1)]
    data = message_dict(
        blocks.snapshots_page_message(Backup(id=1, name="B"), snapshots, 1, has_more=False)
    )
    assert labels(data).count("Show log") == shown
    assert ("Next" in labels(data)) is next_


def test_page_one_has_no_previous() -> None:
    data = message_dict(blocks.backups_page_message(backups_listing([Backup(id=1)], 1, True), 123))
    assert "Previous" not in labels(data)
    data = message_dict(blocks.backups_page_message(backups_listing([Backup(id=1)], 2, False), 123))
    assert "Previous" in labels(data)


# -- lists inside messages ------------------------------------------------------------------------


def _snapshot(sid: int, log: str | None = None, state: str = "Failed") -> Snapshot:
    return Snapshot.model_validate(
        {"snapshotId": sid, "startTime": T0.isoformat(), "state": state, "log": log}
    )


@pytest.mark.parametrize("count", [LAST_SNAPSHOTS_SHOWN - 1, LAST_SNAPSHOTS_SHOWN, 6])
def test_backup_details_show_the_last_five_snapshots(count: int) -> None:
    history = [_snapshot(1000 + i) for i in range(count)]
    text = all_text(message_dict(blocks.backup_details_message(Backup(id=1), True, None, history)))
    shown = [i for i in range(count) if f"*{1000 + i}*" in text]
    assert shown == list(range(min(count, LAST_SNAPSHOTS_SHOWN)))


@pytest.mark.parametrize(("lines", "note"), [(4, None), (5, None), (6, "1 more line")])
def test_alert_log_excerpt_at_5_lines(lines: int, note: str | None) -> None:
    log = "\n".join(f"line {i}" for i in range(lines))
    text = all_text(message_dict(blocks.failure_alert(1, "B", _snapshot(7, log), False)))
    assert f"line {min(lines, ALERT_LOG_LINES) - 1}\n```" in text
    assert (f"… {note} — Show log" in text) if note else ("more line" not in text)


@pytest.mark.parametrize(("lines", "hidden"), [(599, 0), (600, 0), (601, 1)])
def test_show_log_at_600_lines(lines: int, hidden: int) -> None:
    log = "\n".join("x" for _ in range(lines))
    text = all_text(message_dict(blocks.snapshot_log_message(Backup(id=1), _snapshot(7, log))))
    assert text.count("\nx") == min(lines, LOG_LINES)  # each shown line, once
    assert ("1 more line not shown" in text) is (hidden == 1)


@pytest.mark.parametrize(("lines", "hidden"), [(11, 0), (12, 0), (13, 1)])
def test_show_log_at_six_sections(lines: int, hidden: int) -> None:
    # Two 1,400-character lines fill one section: twelve lines are exactly six sections.
    log = "\n".join("y" * 1400 for _ in range(lines))
    data = message_dict(blocks.snapshot_log_message(Backup(id=1), _snapshot(7, log)))
    code = [b for b in data["blocks"] if b["type"] == "section" and "```" in b["text"]["text"]]
    assert len(code) == min((lines + 1) // 2, LOG_SECTIONS)
    assert ("1 more line not shown" in all_text(data)) is (hidden == 1)


@pytest.mark.parametrize(("length", "sections"), [(1444, 6), (1445, 6), (1446, 12)])
def test_two_log_lines_that_exactly_fill_a_section_share_it(length: int, sections: int) -> None:
    # A section holds 2,892 characters of code; a line costs its length and a newline.
    log = "\n".join("y" * length for _ in range(12))
    data = message_dict(blocks.snapshot_log_message(Backup(id=1), _snapshot(7, log)))
    code = [b for b in data["blocks"] if b["type"] == "section" and "```" in b["text"]["text"]]
    assert len(code) == min(sections, LOG_SECTIONS)
    assert ("more lines not shown" in all_text(data)) is (sections > LOG_SECTIONS)


def _binding(channel: str, muted: int = 0) -> ChannelBinding:
    return ChannelBinding(
        channel_id=channel,
        workspace_id=1,
        connected_by="U1",
        connected_at=T0,
        muted_backup_ids=tuple(range(1, muted + 1)),
    )


@pytest.mark.parametrize(("muted", "more"), [(49, None), (50, None), (51, " and 1 more.")])
def test_status_lists_fifty_mutes(muted: int, more: str | None) -> None:
    text = all_text(message_dict(blocks.status_message(_binding("C1", muted), [])))
    listed = text.split("Muted backups: ")[1].split("\n")[0].split(" and ")[0].rstrip(".")
    last = min(muted, 50)
    assert listed.split(", ")[-1] == f"*Backup {last}* ({last})"
    assert (more in text) if more else (" more." not in text)


def test_status_counts_the_muted_backups_whose_long_names_do_not_fit() -> None:
    names = {i: "N" * 100 for i in range(1, 51)}
    text = all_text(message_dict(blocks.status_message(_binding("C1", 50), [], names)))
    alerts = text.split("Failure alerts are *on*. ")[1].split("\n")[0]
    assert len(alerts) < 2_200 and alerts.endswith("more."), alerts
    assert f"*{'N' * 100}* (1)" in alerts


def _with_limits(count: int, channel: str = "C1") -> ChannelBinding:
    limits = tuple(BackupLimits(i, stale_seconds=3600 * i) for i in range(1, count + 1))
    return replace(_binding(channel), limits=limits, mention_ids=("S1",) * MAX_MENTIONS)


def test_status_lists_the_limits_set_here_in_whole_lines_within_a_section() -> None:
    names = {i: "N" * 100 for i in range(1, 301)}
    data = message_dict(blocks.status_message(_with_limits(300), [], names))
    [limits] = [b["text"]["text"] for b in data["blocks"] if "Limits set here" in str(b)]
    assert len(limits) <= 3000 and limits.splitlines()[-1].startswith("… and ")
    lines = limits.splitlines()[1:-1]
    assert all(re.fullmatch(r"\*N{100}\* \(\d+\): stale after \d+[hd] \d\d[mh]", x) for x in lines)
    assert f"*{'N' * 100}* (1): stale after 1h 00m" in limits


@pytest.mark.parametrize(("count", "more"), [(4, None), (5, None), (6, "limits of 1 more backup")])
def test_home_lists_five_backups_limits_per_channel(count: int, more: str | None) -> None:
    text = all_text(view_dict(blocks.home_view([HomeChannel(_with_limits(count))])))
    assert text.count(": stale after ") == min(count, 5)
    assert (more in text) if more else ("more backup" not in text)


def test_home_with_many_channels_with_settings_stays_within_100_blocks() -> None:
    channels = [HomeChannel(_with_limits(300, f"C{i:04d}")) for i in range(200)]
    data = view_dict(blocks.home_view(channels))
    assert len(data["blocks"]) <= 100
    assert data["blocks"][-1]["type"] == "context"  # the footer survives


def _watch(channel: str, i: int) -> WatchedRun:
    return WatchedRun(
        channel, 1, 7000 + i, "U1", T0, "B", SnapshotState.RUNNING, team_id="T1", message_ts="1.0"
    )


@pytest.mark.parametrize(("channels", "note"), [(31, False), (32, False), (33, True)])
def test_home_shows_as_many_channels_as_100_blocks_hold(channels: int, note: bool) -> None:
    bindings = [_binding(f"C{i:04d}") for i in range(channels)]
    watches = {b.channel_id: [_watch(b.channel_id, 0)] for b in bindings}
    data = view_dict(_home(bindings, watches))
    assert len(data["blocks"]) <= 100
    assert ("1 more channel not shown" in all_text(data)) is note
    assert ("not shown" in all_text(data)) is note
    assert all_text(data).count("<#C") == min(channels, 32)


def test_home_with_many_failures_and_channels_stays_within_100_blocks() -> None:
    bindings = [_binding(f"C{i:04d}") for i in range(200)]
    watches = {b.channel_id: [_watch(b.channel_id, 0)] for b in bindings}
    failures = [RecentFailure("C0000", 1, "B", 7000 + i, T0, None) for i in range(50)]
    data = view_dict(_home(bindings, watches, failures))
    assert len(data["blocks"]) <= 100
    assert all_text(data).count("failed · <#C0000>") == 10  # the latest ten
    assert "more channels not shown" in all_text(data)
    assert data["blocks"][-1]["type"] == "context"  # the footer survives


@pytest.mark.parametrize(("count", "more"), [(4, None), (5, None), (6, "… and 1 more")])
def test_home_lists_five_runs_per_channel(count: int, more: str | None) -> None:
    watches = {"C1": [_watch("C1", i) for i in range(count)]}
    text = all_text(view_dict(_home([_binding("C1")], watches)))
    assert text.count("• Snapshot 70") == min(count, 5)
    assert (more in text) if more else ("… and" not in text)


@pytest.mark.parametrize(("minutes", "shown"), [(59, "59 min"), (60, "1h 00m"), (61, "1h 01m")])
def test_still_running_note_switches_units_at_an_hour(minutes: int, shown: str) -> None:
    assert f"Still running ({shown})" in blocks.still_running_note(minutes).text


def _home(
    bindings: list[ChannelBinding],
    watches: dict[str, list[WatchedRun]],
    failures: Sequence[RecentFailure] = (),
) -> View:
    channels = [HomeChannel(b, watches.get(b.channel_id, ())) for b in bindings]
    return blocks.home_view(channels, failures)
