"""What each message says and which buttons it offers (docs/reference/messages.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.services.models import ChannelBinding, WatchedRun
from bot.skyvia.models import ActiveRun, Backup, Snapshot
from bot.slack import messages as blocks
from bot.slack.grammar.parsing import parse_command
from bot.slack.grammar.usage import USAGE, UsageError
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import (
    BackupRef,
    BackupsPageRef,
    MuteForRef,
    RowAction,
    RowChoice,
    RunRef,
    ScheduleRef,
    Screen,
    SnapshotFilters,
    SnapshotRef,
    SnapshotsPageRef,
)
from tests.slack.messages.blockkit import (
    all_text,
    backups_listing,
    buttons,
    menu_labels,
    message_dict,
    row_menus,
)

T0 = datetime(2023, 10, 2, 14, 15, 15, tzinfo=UTC)
DATE = "<!date^1696256115^{date_short_pretty} at {time}|2023-10-02 14:15 UTC>"
CRM = Backup(id=456, name="Nightly CRM", scheduled=True)


def _snapshot(state: str, log: str | None = None, **extra: Any) -> Snapshot:
    return Snapshot.model_validate(
        {
            "snapshotId": 7001,
            "startTime": T0.isoformat(),
            "endTime": (T0 + timedelta(seconds=312)).isoformat(),
            "state": state,
            "log": log,
            **extra,
        }
    )


def _button(data: dict[str, Any], text: str) -> dict[str, Any]:
    matches = [b for b in buttons(data["blocks"]) if b["text"]["text"] == text]
    assert len(matches) == 1, [b["text"]["text"] for b in buttons(data["blocks"])]
    return matches[0]


def _first_line(data: dict[str, Any]) -> str:
    return str(data["blocks"][0]["text"]["text"])


# -- schedule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "label", "enable"),
    [(True, "Disable schedule", False), (False, "Enable schedule", True)],
)
def test_schedule_has_one_toggle_whose_text_flips(active: bool, label: str, enable: bool) -> None:
    data = message_dict(blocks.schedule_message(CRM, active))
    assert [b["text"]["text"] for b in buttons(data["blocks"])] == [label]
    toggle = _button(data, label)
    assert ScheduleRef.load(toggle["value"]) == ScheduleRef(backup_id=456, enable=enable)
    assert "confirm" in toggle
    assert f"is *{'on' if active else 'off'}*" in _first_line(data)


def test_every_toggle_names_the_screen_it_is_on() -> None:
    """After a toggle the same screen is redrawn, told by the button (not by the message)."""
    listed = [Backup(id=i, name=f"B{i}", scheduled=i % 2 == 0) for i in range(1, 11)]
    for page in (1, 2, 3):
        data = message_dict(blocks.backups_page_message(backups_listing(listed, page, True), 123))
        refs = [RowChoice.load(menu["options"][1]["value"]) for menu in row_menus(data["blocks"])]
        assert len(refs) == 10
        assert {(r.do, r.page) for r in refs} == {
            (RowAction.ENABLE, page),
            (RowAction.DISABLE, page),
        }
    details = message_dict(blocks.backup_details_message(CRM, True, None, []))
    toggle = ScheduleRef.load(_button(details, "Disable schedule")["value"])
    assert (toggle.screen, toggle.page) == (Screen.DETAILS, 1)
    alone = message_dict(blocks.schedule_message(CRM, False))
    assert ScheduleRef.load(_button(alone, "Enable schedule")["value"]).screen is Screen.SCHEDULE


def test_schedule_change_is_announced_with_who_and_what() -> None:
    data = message_dict(blocks.schedule_changed_announcement("U1", CRM, False, T0))
    assert _first_line(data) == "<@U1> disabled the schedule of *Nightly CRM* (456)"
    assert "disabled the schedule of Nightly CRM (456)" in data["text"]
    assert f"<!date^{int(T0.timestamp())}^" in json.dumps(data["blocks"])
    undo = ScheduleRef.load(_button(data, "Undo")["value"])
    assert (undo.backup_id, undo.enable, undo.screen) == (456, True, Screen.SCHEDULE)
    enabled = message_dict(blocks.schedule_changed_announcement("U1", CRM, True, T0))
    assert "<@U1> enabled the schedule" in _first_line(enabled)
    assert ScheduleRef.load(_button(enabled, "Undo")["value"]).enable is False


# -- backups --------------------------------------------------------------------------------------


def test_backups_page_rows_and_buttons() -> None:
    backups = [
        Backup(id=1, name="On", scheduled=True),
        Backup(id=2, name="Off", scheduled=False),
        Backup(id=3, name=None, scheduled=None),
    ]
    data = message_dict(blocks.backups_page_message(backups_listing(backups, 2, True), 123))
    text = all_text(data)
    assert "*On* (1)\n:large_green_circle: schedule on · :zzz: never run" in text
    assert "*Off* (2)\n:white_circle: schedule off" in text
    assert "*Backup 3* (3)\n:grey_question: schedule unknown" in text
    assert "page 2 of 3 · 3 backups" in text
    assert menu_labels(data["blocks"]) == [
        ["Run snapshot", "Disable schedule", "Details", "Mute"],
        ["Run snapshot", "Enable schedule", "Details", "Mute"],
        ["Run snapshot", "Schedule", "Details", "Mute"],
    ]
    assert [b["text"]["text"] for b in buttons(data["blocks"])] == ["Previous", "Next"]
    assert BackupsPageRef.load(_button(data, "Previous")["value"]).page == 1
    assert BackupsPageRef.load(_button(data, "Next")["value"]).page == 3


def test_backups_page_one_has_no_previous_and_last_page_no_next() -> None:
    data = message_dict(blocks.backups_page_message(backups_listing([CRM], 1, False), 123))
    labels = [b["text"]["text"] for b in buttons(data["blocks"])]
    assert "Previous" not in labels and "Next" not in labels


def test_backups_page_shows_ten_and_offers_next_when_given_more() -> None:
    many = [Backup(id=i, name=f"B{i}") for i in range(1, 3001)]
    data = message_dict(blocks.backups_page_message(backups_listing(many, 1, False), 123))
    assert len(row_menus(data["blocks"])) == 10
    assert BackupsPageRef.load(_button(data, "Next")["value"]).page == 2


def test_backup_details_show_facts_active_run_and_history() -> None:
    run = ActiveRun.model_validate({"runId": 7002, "date": T0.isoformat(), "state": "Running"})
    history = [_snapshot("Succeeded", successRows=1000, errorRows=0, runBySchedule=True)] * 7
    backup = CRM.model_copy(update={"created": T0})
    data = message_dict(blocks.backup_details_message(backup, True, run, history))
    text = all_text(data)
    assert f"Created {DATE}" in text
    assert f":arrows_counterclockwise: Snapshot 7002 is running, started {DATE}" in text
    line = f":white_check_mark: *7001* · Succeeded · {DATE} · took 5m 12s · by schedule"
    assert text.count(line) == 5  # the last five, not seven
    assert "1,000 rows, 0 errors" in text
    assert SnapshotsPageRef.load(_button(data, "Snapshots")["value"]) == SnapshotsPageRef(
        backup_id=456
    )
    assert "confirm" in _button(data, "Run snapshot")


# -- snapshots ------------------------------------------------------------------------------------


def test_snapshots_page_keeps_filters_in_paging_buttons() -> None:
    filters = SnapshotFilters(failed=True, since=T0)
    page = [_snapshot("Failed")] * 3
    data = message_dict(blocks.snapshots_page_message(CRM, page, 2, True, filters))
    assert f"failed only · since {DATE} · page 2" in all_text(data)
    log_buttons = [b for b in buttons(data["blocks"]) if b["text"]["text"] == "Show log"]
    assert len(log_buttons) == 3
    assert SnapshotRef.load(log_buttons[0]["value"]) == SnapshotRef(backup_id=456, snapshot_id=7001)
    assert SnapshotsPageRef.load(_button(data, "Next")["value"]) == SnapshotsPageRef(
        backup_id=456, page=3, filters=filters
    )
    assert SnapshotsPageRef.load(_button(data, "Previous")["value"]).page == 1


def test_snapshot_log_is_shown_in_code_sections_with_a_count_of_the_rest() -> None:
    log = "\n".join(f"row {i} failed: <!here> `x`" for i in range(10_000))
    data = message_dict(blocks.snapshot_log_message(CRM, _snapshot("Failed", log)))
    code = [
        b["text"]["text"]
        for b in data["blocks"]
        if b["type"] == "section" and b["text"]["text"].startswith("```")
    ]
    assert len(code) > 1
    shown = sum(section.count("\n") - 1 for section in code)  # whole lines between fences
    assert shown >= 50
    assert f"… {10_000 - shown:,} more lines not shown" in all_text(data)


# -- lifecycle card and outcome -------------------------------------------------------------------


def test_card_while_running() -> None:
    card = blocks.snapshot_card(
        456, "Nightly CRM", 7001, "Running", "U1", T0, T0 + timedelta(seconds=190)
    )
    data = message_dict(card)
    assert (
        _first_line(data) == ":arrows_counterclockwise: Snapshot of *Nightly CRM* (456) is running"
    )
    context = data["blocks"][1]["elements"][0]["text"]
    epoch = int(T0.timestamp())
    assert context == (
        f"Started by <@U1> · snapshot 7001 · started <!date^{epoch}^{{ago}}|2023-10-02 14:15 UTC>"
    )
    assert "running for" not in context
    assert buttons(data["blocks"]) == []
    assert data["text"] == ":arrows_counterclockwise: Snapshot of Nightly CRM (456) is running"


def test_card_when_queued_and_when_succeeded() -> None:
    queued = message_dict(blocks.snapshot_card(456, "Nightly CRM", 7001, "Queued", "U1", T0, T0))
    assert _first_line(queued).startswith(":hourglass_flowing_sand: Snapshot of")
    done = message_dict(
        blocks.snapshot_card(
            456, "Nightly CRM", 7001, "Succeeded", "U1", T0, T0, duration_s=312, rows=1000, errors=0
        )
    )
    assert _first_line(done) == ":white_check_mark: Snapshot of *Nightly CRM* (456) succeeded"
    context = done["blocks"][1]["elements"][0]["text"]
    assert context == f"Started by <@U1> · snapshot 7001 · {DATE} · took 5m 12s · 1,000 rows"
    assert [b["text"]["text"] for b in buttons(done["blocks"])] == ["Show log"]


def test_failed_card_offers_log_and_a_confirmed_retry() -> None:
    data = message_dict(blocks.snapshot_card(456, "X", 7001, "Failed", "U1", T0, T0, 63, 10, 5))
    assert "took 1m 03s · 10 rows · 5 errors" in all_text(data)
    assert "confirm" in _button(data, "Run snapshot")
    retry = RunRef(backup_id=456, retry_of=7001)
    assert RunRef.load(_button(data, "Run snapshot")["value"]) == retry


def test_a_retry_card_says_what_it_retries_and_links_only_to_slack() -> None:
    link = "https://acme.slack.com/archives/C1/p1700000000000100"
    card = blocks.snapshot_card(
        456, "X", 7002, "New", "U1", T0, T0, retry_of=7001, retried_link=link
    )
    assert f"Retry of snapshot 7001 (<{link}|see the failure>)" in all_text(message_dict(card))
    forged = blocks.snapshot_card(
        456, "X", 7002, "New", "U1", T0, T0, retry_of=7001, retried_link="https://evil.example/x"
    )
    text = all_text(message_dict(forged))
    assert "Retry of snapshot 7001" in text and "evil" not in text


def test_outcome_reply_when_succeeded() -> None:
    snapshot = _snapshot("Succeeded", successRows=1000, errorRows=0)
    data = message_dict(blocks.snapshot_outcome_reply(456, "Nightly CRM", snapshot, "U1"))
    assert (
        _first_line(data) == "<@U1> :white_check_mark: Succeeded in 5m 12s — 1,000 rows, 0 errors."
    )
    assert buttons(data["blocks"]) == []


def test_outcome_reply_when_failed_has_log_excerpt_and_buttons() -> None:
    log = "\n".join(f"Error {i}: INVALID_SESSION_ID on object Account" for i in range(50))
    data = message_dict(
        blocks.snapshot_outcome_reply(456, "Nightly CRM", _snapshot("Failed", log), "U1")
    )
    assert _first_line(data) == "<@U1> :x: Failed after 5m 12s."
    text = all_text(data)
    assert "*Nightly CRM* (456) · snapshot 7001" in text
    assert "```\nError 0: INVALID_SESSION_ID on object Account\n" in text
    assert "Error 19:" in text and "Error 20:" not in text
    assert "… 30 more lines — Show log" in text
    assert [b["text"]["text"] for b in buttons(data["blocks"])] == ["Show log", "Run snapshot"]


def test_long_run_notes() -> None:
    assert "Still running (45 min)" in message_dict(blocks.still_running_note(45))["text"]
    assert "Still running (2h 05m)" in message_dict(blocks.still_running_note(125))["text"]
    gave_up = all_text(message_dict(blocks.gave_up_note(24, 456)))
    assert "Stopped watching after 1d 00h" in gave_up
    assert "`/skyvia backup 456`" in gave_up


def test_active_snapshot_exists_names_it_and_offers_a_confirmed_second_run() -> None:
    run = ActiveRun.model_validate({"runId": 7001, "date": T0.isoformat(), "state": "Queued"})
    data = message_dict(blocks.active_snapshot_exists_message(CRM, run))
    assert "Snapshot 7001 of *Nightly CRM* (456) is queued" in _first_line(data)
    assert "nothing was started" in data["text"]
    anyway = _button(data, "Start another anyway")
    assert anyway["action_id"] == "run_snapshot_anyway"
    assert "7001" in anyway["confirm"]["text"]["text"]


# -- alerts ---------------------------------------------------------------------------------------


def test_failure_alert_as_in_the_reference() -> None:
    snapshot = _snapshot("Failed", "Error: INVALID_SESSION_ID on object Account")
    data = message_dict(blocks.failure_alert(456, "Nightly CRM", snapshot, by_schedule=True))
    assert _first_line(data) == ":x: Scheduled snapshot of *Nightly CRM* (456) failed"
    context = data["blocks"][1]["elements"][0]["text"]
    end = "<!date^1696256427^{date_short_pretty} at {time}|2023-10-02 14:20 UTC>"
    assert context == f"Snapshot 7001 · {end} · after 5m 12s"
    assert "```\nError: INVALID_SESSION_ID on object Account\n```" in all_text(data)
    labels = [b["text"]["text"] for b in buttons(data["blocks"])]
    assert labels == ["Run snapshot", "I'm on it", "Show log"]
    # Both at once: Run snapshot retries this failure in its thread, the menu mutes for a while.
    run = _button(data, "Run snapshot")
    assert run.get("style") == "primary"
    assert RunRef.load(run["value"]) == RunRef(backup_id=456, retry_of=7001)
    [menu] = [e for e in data["blocks"][-1]["elements"] if e["type"] == "static_select"]
    assert menu["placeholder"]["text"] == "Mute this backup"
    assert menu["action_id"] == ActionId.MUTE_BACKUP_FOR
    options = {o["text"]["text"]: MuteForRef.load(o["value"]) for o in menu["options"]}
    assert options == {
        "Mute for 1 h": MuteForRef(backup_id=456, hours=1),
        "Mute for 4 h": MuteForRef(backup_id=456, hours=4),
        "Mute for 24 h": MuteForRef(backup_id=456, hours=24),
        "Mute until unmuted": MuteForRef(backup_id=456),
    }
    assert "unmute 456" in menu["confirm"]["text"]["text"]
    manual = message_dict(blocks.failure_alert(456, "Nightly CRM", snapshot, by_schedule=False))
    assert _first_line(manual).startswith(":x: Snapshot of")


def test_alert_and_mute_notices_say_who() -> None:
    assert "<@U1> turned failure alerts *off*" in all_text(
        message_dict(blocks.alerts_changed_message("U1", False))
    )
    muted = all_text(message_dict(blocks.mute_changed_message("U1", CRM, True)))
    assert "<@U1> muted failure alerts for *Nightly CRM* (456)" in muted
    assert "`/skyvia alerts unmute 456`" in muted


def test_a_mute_notice_carries_an_unmute_button_and_an_unmute_notice_none() -> None:
    muted = message_dict(blocks.mute_changed_message("U1", CRM, True))
    unmute = _button(muted, "Unmute")
    assert unmute["action_id"] == ActionId.UNMUTE_BACKUP
    assert BackupRef.load(unmute["value"]) == BackupRef(backup_id=456)
    assert buttons(message_dict(blocks.mute_changed_message("U1", CRM, False))["blocks"]) == []


# -- bindings, help and errors --------------------------------------------------------------------


def test_connected_message_names_workspace_and_user() -> None:
    binding = ChannelBinding("C1", 123, "U1", T0, workspace_name="Sales")
    data = message_dict(blocks.connected_message(binding, "U1"))
    assert "connected to Skyvia workspace *Sales* (123), by <@U1>" in _first_line(data)
    assert "will be announced here" in all_text(data)


def test_connected_message_tells_alerts_are_off_when_they_are() -> None:
    binding = ChannelBinding("C1", 123, "U1", T0, alerts_enabled=False, muted_backup_ids=(4,))
    text = all_text(message_dict(blocks.connected_message(binding, "U1")))
    assert "will be announced" not in text
    assert "Failure alerts are off here" in text and "1 backup muted" in text


def test_disconnected_message_counts_stopped_watches() -> None:
    text = all_text(message_dict(blocks.disconnected_message(123, "U1", 2, "Sales & co")))
    assert "disconnected from Skyvia workspace *Sales &amp; co* (123) by <@U1>" in text
    assert "2 watched snapshots will not be reported" in text


def test_status_message_shows_everything_about_the_binding() -> None:
    binding = ChannelBinding(
        channel_id="C1", workspace_id=123, workspace_name="Sales", connected_by="U1",
        connected_at=T0, muted_backup_ids=(4, 5),
    )  # fmt: skip
    watch = WatchedRun("C1", 456, 7001, "U2", T0, "Nightly CRM", team_id="T1", message_ts="1.0")
    text = all_text(message_dict(blocks.status_message(binding, [watch])))
    assert "connected to Skyvia workspace *Sales* (123)" in text
    assert f"Connected by <@U1> · {DATE}" in text
    assert "Failure alerts are *on*. Muted backups: *Backup 4* (4), *Backup 5* (5)." in text
    assert "Snapshot 7001 of *Nightly CRM* (456)" in text
    assert "waiting for the first check" in text
    assert "started by <@U2>" in text


def test_status_of_an_unbound_channel_says_how_to_connect() -> None:
    text = all_text(message_dict(blocks.status_message(None, [])))
    assert "not connected" in text and "`/skyvia connect &lt;workspaceId&gt;`" in text


def test_help_lists_every_subcommand_escaped() -> None:
    text = all_text(message_dict(blocks.help_message()))
    for name in USAGE:
        assert f"`/skyvia {name}" in text
    assert "`/skyvia snapshot &lt;backupId&gt;`" in text


def test_usage_error_says_what_was_wrong_suggests_and_shows_usage() -> None:
    error = UsageError("`snapshto` is not a /skyvia command.", USAGE["snapshot"], "snapshot")
    data = message_dict(blocks.usage_error_message(error))
    assert _first_line(data) == (
        ":warning: `snapshto` is not a /skyvia command. Did you mean `/skyvia snapshot`?"
    )
    assert "• `/skyvia snapshot &lt;backupId&gt;` starts a snapshot" in all_text(data)
    assert "Type `/skyvia help` for every command." in all_text(data)


def test_a_corrected_command_is_the_one_short_hint() -> None:
    data = message_dict(blocks.usage_error_message(parse_error("mute 456")))
    assert data["text"] == (
        ":warning: `mute` is not a /skyvia command. Did you mean `/skyvia alerts mute 456`?"
    )
    assert len(data["blocks"]) == 1


def test_an_unknown_command_is_not_answered_with_the_whole_help() -> None:
    data = message_dict(blocks.usage_error_message(parse_error("xyzzy")))
    assert data["text"] == (
        ":warning: `xyzzy` is not a /skyvia command. `/skyvia help` lists them all."
    )
    assert len(data["blocks"]) == 1


def parse_error(text: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    return caught.value


def test_refusal_is_two_sentences_behind_a_warning() -> None:
    data = message_dict(blocks.refusal_message("Only admins can connect a channel.", "Ask one."))
    assert _first_line(data) == ":warning: Only admins can connect a channel. Ask one."
    assert data["text"] == _first_line(data)


def test_unexpected_error_shows_the_reference() -> None:
    data = message_dict(blocks.unexpected_error_message("ab12cd34"))
    assert "(reference `ab12cd34`)" in data["text"]


def test_message_kwargs_merge_call_arguments() -> None:
    message = blocks.still_running_note(5)
    kwargs = message.kwargs(channel="C1", thread_ts="1.2")
    assert kwargs["channel"] == "C1" and kwargs["thread_ts"] == "1.2"
    assert kwargs["text"] == message.text and kwargs["blocks"] == message.to_dict()["blocks"]


def test_message_refuses_missing_fallback_or_too_many_blocks() -> None:
    with pytest.raises(ValueError):
        blocks.Message(text="  ")
    with pytest.raises(ValueError):
        blocks.Message(text="x", blocks=blocks.still_running_note(1).blocks * 51)


def test_failure_alert_mentions_the_channels_people_in_its_text_and_blocks() -> None:
    snapshot = Snapshot.model_validate({"snapshotId": 7002, "state": "Failed"})
    plain = message_dict(blocks.failure_alert(456, "Nightly CRM", snapshot, by_schedule=True))
    assert "cc " not in plain["text"]
    data = message_dict(
        blocks.failure_alert(
            456, "Nightly CRM", snapshot, by_schedule=True, mention_ids=("S0ONCALL", "U0DANA")
        )
    )
    assert data["text"].endswith("failed · cc <!subteam^S0ONCALL> <@U0DANA>")
    assert data["blocks"][1]["text"]["text"] == "cc <!subteam^S0ONCALL> <@U0DANA>"
    assert len(data["blocks"]) == len(plain["blocks"]) + 1
