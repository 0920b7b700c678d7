"""Every builder, fed hostile and oversized input, yields a message Slack accepts and that is safe.

One catalogue, many invariants: validation through slack_sdk and re-parsing, fallback text,
≤ 1 primary button, confirms on changing buttons, limits, and no unescaped `<!channel>`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from slack_sdk.models.views import View

from bot.services.models import ChannelBinding, RecentFailure, WatchedRun
from bot.skyvia.models import ActiveRun, Backup, Snapshot, SnapshotState
from bot.slack import messages as blocks
from bot.slack.grammar.parsing import parse_command
from bot.slack.grammar.usage import UsageError
from bot.slack.messages import HomeChannel, Message
from bot.slack.messages.payloads import SnapshotFilters
from tests.slack.messages.blockkit import all_text, backups_listing, message_dict, view_dict

EVIL = "<!channel> & co <@U999> <https://evil|click>"
LONG = "N" * 200
T0 = datetime(2023, 10, 2, 14, 15, 15, tzinfo=UTC)
HUGE_LOG = ("Error: <!here> INVALID_SESSION_ID ``` & more\n" * 30_000)[:1_000_000]


def _backup(name: str | None, backup_id: int = 456, scheduled: bool | None = True) -> Backup:
    return Backup(id=backup_id, name=name, created=T0, modified=T0, scheduled=scheduled)


def _snapshot(state: str = "Failed", log: str | None = HUGE_LOG, sid: int = 7002) -> Snapshot:
    return Snapshot.model_validate(
        {
            "snapshotId": sid,
            "queueTime": "2023-10-02T14:15:00Z",
            "startTime": "2023-10-02T14:15:15.307Z",
            "endTime": "2023-10-02T14:20:27.307Z",
            "state": state,
            "runBySchedule": True,
            "log": log,
            "successRows": 1000,
            "errorRows": 3,
        }
    )


def _run(state: str = "Running") -> ActiveRun:
    return ActiveRun.model_validate(
        {"runId": 7001, "date": "2023-10-02T14:15:15.307Z", "duration": 300, "state": state}
    )


def _binding(channel: str = "C123", name: str | None = EVIL, **extra: object) -> ChannelBinding:
    return ChannelBinding(
        channel_id=channel,
        workspace_id=123,
        workspace_name=name,
        connected_by="U1",
        connected_at=T0,
        muted_backup_ids=tuple(range(1, 1001)),
        **extra,  # type: ignore[arg-type]
    )


def _watch(channel: str = "C123", i: int = 0, name: str = EVIL) -> WatchedRun:
    return WatchedRun(
        channel_id=channel,
        backup_id=456,
        backup_name=name,
        snapshot_id=7000 + i,
        started_by="U1",
        started_at=T0,
        state=SnapshotState.RUNNING,
        team_id="T1",
        message_ts="1.0",
    )


def _usage_error(text: str) -> UsageError:
    try:
        parse_command(text)
    except UsageError as error:
        return error
    raise AssertionError(f"{text!r} parsed")


def _card(name: str, state: str) -> Message:
    later = T0 + timedelta(minutes=3)
    return blocks.snapshot_card(456, name, 7001, state, "U1", T0, later, 312.0, 10**9, 5)


def catalogue(name: str, long_name: str) -> dict[str, Callable[[], Message]]:
    """Every message kind, with `name` as the backup's and workspace's name (`long_name` where
    the point is a name too long to show whole)."""
    backup = partial(_backup, name)
    return {
        "help": blocks.help_message,
        "usage_unknown": lambda: blocks.usage_error_message(_usage_error(f"snapshto {EVIL}")),
        "usage_nothing_near": lambda: blocks.usage_error_message(_usage_error("<!channel>")),
        "refusal": lambda: blocks.refusal_message(f"Backup {EVIL} is gone.", "Run `/skyvia <x>`."),
        "unexpected": lambda: blocks.unexpected_error_message("ab12cd34"),
        "connected": lambda: blocks.connected_message(_binding(name=name), "U1"),
        "connected_unnamed": lambda: blocks.connected_message(
            _binding(name=None, alerts_enabled=False), "U1"
        ),
        "replace_binding": lambda: blocks.replace_binding_message(_binding(name=name), 3, 124),
        "watch_ended": lambda: blocks.watch_ended_card(_watch(name=name), "disconnected by <@U1>"),
        "disconnected": lambda: blocks.disconnected_message(123, "U1", 3),
        "status_unbound": lambda: blocks.status_message(None, []),
        "status_huge": lambda: blocks.status_message(
            _binding(name=name, paused=True, paused_reason=EVIL),
            [_watch(i=i, name=name) for i in range(1000)],
        ),
        "status_alerts_off": lambda: blocks.status_message(
            _binding(name=name, alerts_enabled=False), []
        ),
        "backups_3000": lambda: blocks.backups_page_message(
            backups_listing(
                [_backup(long_name, i, i % 3 == 0 or None) for i in range(1, 3001)], 2, False
            ),
            123,
            name,
        ),
        "backups_empty": lambda: blocks.backups_page_message(backups_listing([], 1, False), 123),
        "backup_details": lambda: blocks.backup_details_message(
            backup(), True, _run(), [_snapshot(sid=i) for i in range(1, 200)]
        ),
        "backup_details_idle": lambda: blocks.backup_details_message(backup(), None, None, []),
        "snapshots_page": lambda: blocks.snapshots_page_message(
            backup(),
            [_snapshot(sid=i) for i in range(1, 500)],
            3,
            True,
            SnapshotFilters(failed=True, since=T0, until=T0 + timedelta(days=1)),
        ),
        "snapshots_empty": lambda: blocks.snapshots_page_message(backup(), [], 1, False),
        "schedule_on": lambda: blocks.schedule_message(backup(), True),
        "schedule_off": lambda: blocks.schedule_message(backup(), False),
        "schedule_changed": lambda: blocks.schedule_changed_announcement("U1", backup(), False, T0),
        "log_huge": lambda: blocks.snapshot_log_message(backup(), _snapshot()),
        "log_one_line": lambda: blocks.snapshot_log_message(
            backup(), _snapshot(log="<!x>" * 250_000)
        ),
        "log_empty": lambda: blocks.snapshot_log_message(backup(), _snapshot(log=None)),
        **{
            f"card_{state}": partial(_card, long_name, state)
            for state in [*SnapshotState, "Paused<!channel>"]
        },
        "outcome_failed": lambda: blocks.snapshot_outcome_reply(456, name, _snapshot(), "U1"),
        "outcome_succeeded": lambda: blocks.snapshot_outcome_reply(
            456, name, _snapshot("Succeeded"), "U1"
        ),
        "still_running": lambda: blocks.still_running_note(90),
        "gave_up": lambda: blocks.gave_up_note(24, 456),
        "active_exists": lambda: blocks.active_snapshot_exists_message(backup(), _run("Queued")),
        "failure_alert": lambda: blocks.failure_alert(456, name, _snapshot(), True),
        "failure_alert_no_log": lambda: blocks.failure_alert(456, None, _snapshot(log=""), False),
        "alerts_on": lambda: blocks.alerts_changed_message("U1", True),
        "alerts_off": lambda: blocks.alerts_changed_message("U1", False),
        "muted": lambda: blocks.mute_changed_message("U1", backup(), True),
        "unmuted": lambda: blocks.mute_changed_message("U1", backup(), False),
    }


MESSAGES = catalogue(EVIL, LONG + EVIL)


@pytest.mark.parametrize("name", MESSAGES)
def test_message_is_valid_safe_and_within_limits(name: str) -> None:
    data = message_dict(MESSAGES[name]())  # the invariants live in message_dict
    assert "<!channel>" not in all_text(data)
    assert "<!here>" not in all_text(data)


@pytest.mark.parametrize(
    "name", ["status_huge", "log_huge", "failure_alert", "outcome_failed", "schedule_on", "muted"]
)
def test_hostile_names_are_shown_escaped_not_dropped(name: str) -> None:
    text = all_text(message_dict(MESSAGES[name]()))
    assert "&lt;!channel&gt; &amp; co" in text


@pytest.mark.parametrize("name", ["backups_3000", "card_Failed"])
def test_long_names_are_cut_in_every_place_they_appear(name: str) -> None:
    text = all_text(message_dict(MESSAGES[name]()))
    assert "N" * 99 + "…" in text
    assert "N" * 101 not in text


FORMATTED = "*Bold* _it_ ~gone~ `code` and *"
"""A name full of mrkdwn markup, which must show as typed: `*Bold*` must not turn bold."""
_MARKUP = ("*Bold*", "_it_", "~gone~", "`code`", "and *")
NAMED = catalogue(FORMATTED, FORMATTED)
NAMELESS = {
    "help",
    "usage_unknown",
    "usage_nothing_near",
    "refusal",
    "unexpected",
    "connected_unnamed",
    "disconnected",
    "status_unbound",
    "backups_empty",
    "still_running",
    "gave_up",
    "failure_alert_no_log",
    "alerts_on",
    "alerts_off",
}


def assert_reads_literally(text: str, name: str = FORMATTED) -> None:
    """No markup of the name survives, and the name is still there, character for character
    once compatibility forms are folded (what a reader sees and what a search would match)."""
    for markup in _MARKUP:
        assert markup not in text, markup
    assert name in unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize("kind", NAMED)
def test_markup_in_names_reads_literally_in_every_message(kind: str) -> None:
    text = all_text(message_dict(NAMED[kind]()))
    if kind in NAMELESS:
        for markup in _MARKUP:
            assert markup not in text
    else:
        assert_reads_literally(text)


def test_markup_in_names_reads_literally_on_the_home_tab() -> None:
    bindings = [_binding("C1", name=FORMATTED)]
    data = view_dict(_home(bindings, {"C1": [_watch("C1", name=FORMATTED)]}))
    text = all_text(data)
    assert_reads_literally(text)
    assert unicodedata.normalize("NFKC", text).count(FORMATTED) == 2  # workspace and backup


def test_home_view_with_hundreds_of_channels_fits() -> None:
    bindings = [_binding(f"C{i:05d}", name=LONG + EVIL) for i in range(500)]
    watches = {b.channel_id: [_watch(b.channel_id, i) for i in range(20)] for b in bindings}
    data = view_dict(_home(bindings, watches))
    assert data["type"] == "home"
    assert "more channels not shown" in all_text(data)
    assert "<!channel>" not in all_text(data)


def test_home_view_lists_channels_alerts_and_work_in_progress() -> None:
    bindings = [
        _binding("C1", name="Sales"),
        ChannelBinding("C2", 7, "U2", T0, alerts_enabled=False),
    ]
    data = view_dict(_home(bindings, {"C1": [_watch("C1")]}))
    text = all_text(data)
    assert "<#C1> · workspace *Sales* (123) · :bell: alerts on" in text
    assert ":mute: muted: *Backup 1* (1), *Backup 2* (2)" in text and "and 995 more" in text
    assert "<#C2> · workspace 7 · :no_bell: alerts off" in text
    assert "Snapshot 7000 of" in text and "Running" in text
    assert "^{ago}|" in text  # when the run started, as a relative date


def test_home_view_lists_recent_failures_with_their_buttons() -> None:
    failure = RecentFailure("C123", 456, FORMATTED, 7009, T0, "1700000000.000100")
    data = view_dict(_home([_binding("C123", name="Sales")], {}, [failure]))
    text = all_text(data)
    assert "Recent failures" in text and "snapshot 7009 failed · <#C123>" in text
    assert_reads_literally(text)
    elements = [e for b in data["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in elements] == ["home_run_snapshot", "home_show_log"]
    assert (
        '"channel_id":"C123"' in elements[0]["value"]
        and "1700000000.000100" in elements[0]["value"]
    )


def test_home_view_without_bindings_says_how_to_start() -> None:
    text = all_text(view_dict(_home([], {})))
    assert "`/skyvia connect &lt;workspaceId&gt;`" in text


def test_connect_modal_is_valid_and_never_prefills_the_token() -> None:
    data = view_dict(blocks.connect_modal(channel_id="C123", workspace_id=42))
    assert data["type"] == "modal"
    assert data["callback_id"] == "connect_modal"
    inputs = {b["block_id"]: b for b in data["blocks"] if b["type"] == "input"}
    assert set(inputs) == {"connect_workspace", "connect_token"}
    assert inputs["connect_workspace"]["element"]["initial_value"] == "42"
    assert "initial_value" not in inputs["connect_token"]["element"]
    assert inputs["connect_token"].get("optional", False) is False
    optional = view_dict(blocks.connect_modal(channel_id="C123", token_required=False))
    token = next(b for b in optional["blocks"] if b.get("block_id") == "connect_token")
    assert token["optional"] is True


def _home(
    bindings: list[ChannelBinding],
    watches: dict[str, list[WatchedRun]],
    failures: Sequence[RecentFailure] = (),
) -> View:
    channels = [HomeChannel(b, watches.get(b.channel_id, ())) for b in bindings]
    return blocks.home_view(channels, failures)
