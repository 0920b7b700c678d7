"""The console's renderer on the bot's real messages: what a reader of the channel would see."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.console.render import (
    CODE_PREFIX,
    EMOJI,
    Names,
    mrkdwn_to_lines,
    render_blocks,
    render_message,
)
from bot.skyvia.models import Backup, Snapshot
from bot.slack import messages as blocks
from bot.slack.grammar.usage import USAGE
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import MuteForRef, RowAction, RowChoice
from tests.slack.messages.blockkit import backups_listing

T0 = datetime(2023, 10, 2, 14, 15, 15, tzinfo=UTC)
NAMES = Names(
    users={"U0DANA": "dana"},
    channels={"C0OPS": "ops"},
    now=lambda: T0 + timedelta(hours=1),
    zone=UTC,
)
"""A reader an hour after T0, in UTC, so dates read the same on every machine."""


def _failed(log: str) -> Snapshot:
    return Snapshot.model_validate(
        {
            "snapshotId": 7002,
            "startTime": T0.isoformat(),
            "endTime": (T0 + timedelta(seconds=63)).isoformat(),
            "state": "Failed",
            "log": log,
            "successRows": 1000,
            "errorRows": 3,
        }
    )


def test_running_card_reads_like_the_reference() -> None:
    card = blocks.snapshot_card(
        456, "Nightly CRM", 7001, "Running", "U0DANA", T0, T0 + timedelta(seconds=190)
    )
    rendered = render_message(card.to_dict(), names=NAMES)
    assert rendered.lines == [
        "🔄 Snapshot of Nightly CRM (456) is running",
        "Started by @dana · snapshot 7001 · started 1 hour ago",
    ]
    assert rendered.buttons == []


def test_finished_card_numbers_its_buttons_from_the_number_given() -> None:
    card = blocks.snapshot_card(
        456, "Nightly CRM", 7001, "Failed", "U0DANA", T0, T0, duration_s=63, rows=1000, errors=3
    )
    rendered = render_message(card.to_dict(), names=NAMES, first_number=7)
    assert rendered.lines[0] == "❌ Snapshot of Nightly CRM (456) failed"
    assert rendered.lines[-1] == "[7] Show log  [8] Run snapshot"
    assert [b.action_id for b in rendered.buttons] == [ActionId.SHOW_LOG, ActionId.RUN_SNAPSHOT]
    # What a click sends back is the button's own value, untouched.
    assert json.loads(rendered.buttons[0].value) == {"backup_id": 456, "snapshot_id": 7001}
    run = rendered.buttons[1]
    assert run.confirm is not None
    assert run.confirm.text == "Start a snapshot of Nightly CRM (456) now?"
    assert (run.confirm.confirm, run.confirm.deny) == ("Run snapshot", "Cancel")


def test_backups_page_lists_names_unescaped_with_numbered_buttons() -> None:
    backups = [
        Backup(id=456, name="Nightly CRM", scheduled=True),
        Backup(id=458, name="<!channel> & co", scheduled=False),
    ]
    listing = backups_listing(backups, 1, True)
    rendered = render_message(blocks.backups_page_message(listing, 123, "Ops").to_dict())
    text = "\n".join(rendered.lines)
    assert "Backups of Ops (123) · page 1 of 2 · 2 backups" in text
    assert "Nightly CRM (456)\n🟢 schedule on · 💤 never run" in text
    # Escaped for Slack, shown as typed here: the name, not a ping and not `&lt;`.
    assert "<!channel> & co (458)\n⚪ schedule off" in text
    assert "&lt;" not in text and "&amp;" not in text and "*" not in text
    assert "⋯ [1] Run snapshot  [2] Disable schedule  [3] Details  [4] Mute" in rendered.lines
    assert "⋯ [5] Run snapshot  [6] Enable schedule  [7] Details  [8] Mute" in rendered.lines
    assert rendered.lines[-1] == "[9] Next"
    assert len(rendered.buttons) == 9
    # A choice sends its option's value back: the typed choice, under the menu's action id.
    toggle = rendered.buttons[1]
    assert toggle.action_id == ActionId.BACKUP_ROW_MENU
    assert RowChoice.load(toggle.value).do is RowAction.DISABLE


def test_failure_alert_shows_the_log_as_code_and_its_buttons() -> None:
    log = "Error: INVALID_SESSION_ID on object Account\nrow <17> & more `quoted`"
    alert = blocks.failure_alert(456, "Nightly CRM", _failed(log), by_schedule=True)
    rendered = render_message(alert.to_dict(), names=NAMES)
    assert rendered.lines[0] == "❌ Scheduled snapshot of Nightly CRM (456) failed"
    assert rendered.lines[1].startswith("Snapshot 7002 · Today at 14:16 · after 1m 03s")
    # The log reads exactly as Skyvia wrote it: no escapes, no zero-width spaces.
    assert CODE_PREFIX + "Error: INVALID_SESSION_ID on object Account" in rendered.lines
    assert CODE_PREFIX + "row <17> & more `quoted`" in rendered.lines
    assert rendered.lines[-1] == (
        "[1] Run snapshot  [2] I'm on it  [3] Show log  Mute this backup: [4] Mute for 1 h  "
        "[5] Mute for 4 h  [6] Mute for 24 h  [7] Mute until unmuted"
    )
    chosen = rendered.buttons[4]
    assert (chosen.action_id, MuteForRef.load(chosen.value)) == (
        ActionId.MUTE_BACKUP_FOR,
        MuteForRef(backup_id=456, hours=4),
    )
    assert chosen.confirm is not None and "unmute 456" in chosen.confirm.text


def test_help_lists_every_subcommand_readably() -> None:
    text = "\n".join(render_message(blocks.help_message().to_dict()).lines)
    for word in USAGE:
        assert f"/skyvia {word}" in text
    assert "`/skyvia connect <workspaceId>`" in text  # code spans keep their text
    assert "&lt;" not in text and "*" not in text


def test_outcome_reply_mentions_by_name() -> None:
    snapshot = Snapshot.model_validate(
        {
            "snapshotId": 7001,
            "startTime": T0.isoformat(),
            "endTime": (T0 + timedelta(seconds=312)).isoformat(),
            "state": "Succeeded",
            "successRows": 1000,
            "errorRows": 0,
        }
    )
    reply = blocks.snapshot_outcome_reply(456, "Nightly CRM", snapshot, "U0DANA")
    first = render_message(reply.to_dict(), names=NAMES).lines[0]
    assert first.startswith("@dana ✅ Succeeded in 5m 12s")
    assert "1,000 rows, 0 errors" in first


@pytest.mark.parametrize(
    ("mrkdwn", "shown"),
    [
        ("<@U0DANA> and <@U0NOBODY>", "@dana and @U0NOBODY"),
        ("in <#C0OPS> and <#C0X|general>", "in #ops and #general"),
        ("<!date^1696256115^{date_short_pretty}|2023-10-02 14:15 UTC>", "Today"),
        ("<!date^x^{date}|2023-10-02 14:15 UTC>", "2023-10-02 14:15 UTC"),  # unreadable: the label
        ("<!here> <!subteam^S1|@oncall>", "@here @oncall"),
        ("cc <!subteam^S0ONCALL> <@U0DANA>", "cc @S0ONCALL @dana"),
        (
            "<https://app.skyvia.com|Skyvia> <https://x.test>",
            "Skyvia (https://app.skyvia.com) https://x.test",
        ),
        ("&lt;!channel&gt; &amp;lt;", "<!channel> &lt;"),
        ("*bold* _it_ ~gone~ 2*3*4", "bold it gone 2*3*4"),
        (":white_check_mark: :no_such_emoji:", "✅ :no_such_emoji:"),
        ("`:x: *kept*`", "`:x: *kept*`"),
    ],
)
def test_mrkdwn_reads_as_slack_shows_it(mrkdwn: str, shown: str) -> None:
    assert "\n".join(mrkdwn_to_lines(mrkdwn, NAMES)) == shown


def test_code_fences_become_marked_lines_and_an_unclosed_fence_is_text() -> None:
    assert mrkdwn_to_lines("before\n```\na\nb\n```\nafter") == [
        "before",
        CODE_PREFIX + "a",
        CODE_PREFIX + "b",
        "after",
    ]
    assert mrkdwn_to_lines("a ``` b") == ["a ``` b"]


def test_fallback_text_is_used_when_there_are_no_blocks() -> None:
    rendered = render_blocks([], fallback=":link: connected by <@U0DANA>", names=NAMES)
    assert rendered.lines == ["🔗 connected by @dana"]


# -- issue 19 item 1: the console looks like Slack ----------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def test_every_emoji_the_bot_writes_is_shown_as_the_emoji() -> None:
    used = set()
    for folder in ("bot/slack", "bot/services", "handlers"):
        for path in (REPO / folder).rglob("*.py"):
            used |= set(re.findall(r":([a-z][a-z0-9_+-]*):", path.read_text(encoding="utf-8")))
    missing = sorted(code for code in used if code not in EMOJI)
    assert missing == [], missing
    assert ":" not in mrkdwn_to_lines(" ".join(f":{code}:" for code in sorted(used)), NAMES)[0]


BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
CLOCKED = Names(users={}, channels={}, now=lambda: NOW, zone=BERLIN)


def _date(moment: datetime, fmt: str) -> str:
    return mrkdwn_to_lines(f"<!date^{int(moment.timestamp())}^{fmt}|fallback>", CLOCKED)[0]


@pytest.mark.parametrize(
    ("moment", "fmt", "shown"),
    [
        (NOW - timedelta(minutes=45), "{date_short_pretty} at {time}", "Today at 15:15"),
        (NOW - timedelta(days=1), "{date_short_pretty} at {time}", "Yesterday at 16:00"),
        (NOW + timedelta(days=1), "{date_pretty}", "Tomorrow"),
        (NOW - timedelta(days=3), "{date_short_pretty} at {time}", "Dec 4, 2026 at 16:00"),
        (NOW - timedelta(days=3), "{date_long}", "Friday, December 4th, 2026"),
        (NOW - timedelta(days=3), "{date_num} {time_secs}", "2026-12-04 16:00:00"),
        (NOW - timedelta(days=3), "{date}", "December 4th, 2026"),
        (NOW - timedelta(seconds=20), "{ago}", "just now"),
        (NOW - timedelta(hours=2, minutes=5), "{ago}", "2 hours ago"),
        (NOW - timedelta(minutes=1), "{ago}", "1 minute ago"),
        (NOW - timedelta(days=3), "{ago}", "3 days ago"),
        (NOW + timedelta(hours=2), "{ago}", "in 2 hours"),
    ],
)
def test_dates_read_as_slack_shows_them_in_the_local_zone(
    moment: datetime, fmt: str, shown: str
) -> None:
    assert _date(moment, fmt) == shown


def test_a_fixed_clock_shows_every_time_as_if_the_console_had_started_then() -> None:
    """`skyvia-bot console --clock …` (README's transcripts): dates and "now" move together."""
    started = NOW - timedelta(minutes=45)
    shifted = Names(
        now=lambda: NOW, zone=BERLIN, shift=datetime(2026, 12, 8, 13, 15, tzinfo=UTC) - NOW
    )
    at = f"<!date^{int(started.timestamp())}^{{date_short_pretty}} at {{time}} · {{ago}}|x>"
    assert mrkdwn_to_lines(at, shifted) == ["Today at 13:30 · 45 minutes ago"]
