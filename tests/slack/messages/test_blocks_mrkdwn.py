"""Escaping, cutting and the formats every message shares.

See docs/reference/messages.md#escaping and docs/reference/messages.md#message-design.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.skyvia.models import SnapshotState
from bot.slack.messages.common import fit_lines
from bot.slack.messages.mrkdwn import (
    code_block,
    cut_escaped,
    escape_cut,
    escape_mrkdwn,
    format_count,
    format_duration,
    slack_date,
    state_emoji,
    state_phrase,
    user_mention,
)
from tests.slack.messages.blockkit import check_mrkdwn


def test_escape_mrkdwn_neutralises_control_sequences() -> None:
    assert escape_mrkdwn("<!channel> & co") == "&lt;!channel&gt; &amp; co"
    assert escape_mrkdwn("&amp;") == "&amp;amp;"  # already escaped text is escaped again
    assert escape_mrkdwn("*bold* `code`") == "*bold* `code`"


def test_the_checker_would_catch_an_unescaped_mention() -> None:
    with pytest.raises(AssertionError):
        check_mrkdwn("hello <!channel>")
    with pytest.raises(AssertionError):
        check_mrkdwn("R&D")
    check_mrkdwn("<@U1> at <!date^1^{time}|x> in <#C1>: &lt;!channel&gt; &amp;")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=8, max_value=300))
def test_escape_cut_fits_and_never_splits_an_entity(raw: str, limit: int) -> None:
    out = escape_cut(raw, limit)
    assert len(out) <= limit
    check_mrkdwn(out)
    shown = out.removesuffix("…") if len(escape_mrkdwn(raw)) > limit else out
    assert raw.startswith(html.unescape(shown))


def test_cut_never_splits_our_own_sequences() -> None:
    text = "by <@U123ABC> " + slack_date(datetime(2024, 1, 1, tzinfo=UTC))
    for limit in range(5, len(text)):
        check_mrkdwn(cut_escaped(text, limit))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (-3, "0s"),
        (42, "42s"),
        (42.4, "42s"),
        (59.6, "1m 00s"),
        (63, "1m 03s"),
        (312, "5m 12s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (3840, "1h 04m"),
        (86_399, "23h 59m"),
        (93_600, "1d 02h"),
    ],
)
def test_durations_read_at_a_glance(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_counts_have_thousands_separators() -> None:
    assert format_count(0) == "0"
    assert format_count(1000) == "1,000"
    assert format_count(1_234_567) == "1,234,567"


def test_slack_date_renders_in_the_readers_zone_with_a_utc_fallback() -> None:
    moment = datetime(2023, 10, 2, 14, 15, 15, 307000, tzinfo=UTC)
    expected = "<!date^1696256115^{date_short_pretty} at {time}|2023-10-02 14:15 UTC>"
    assert slack_date(moment) == expected
    assert slack_date(moment.replace(tzinfo=None)) == expected  # naive is UTC
    assert slack_date(moment.astimezone(timezone(timedelta(hours=3)))) == expected


@pytest.mark.parametrize(
    ("state", "emoji", "phrase"),
    [
        ("New", ":hourglass_flowing_sand:", "is starting"),
        ("Queued", ":hourglass_flowing_sand:", "is queued"),
        ("Running", ":arrows_counterclockwise:", "is running"),
        ("Succeeded", ":white_check_mark:", "succeeded"),
        ("Failed", ":x:", "failed"),
        ("Canceling", ":no_entry_sign:", "is being canceled"),
        ("Canceled", ":no_entry_sign:", "was canceled"),
        ("Paused<!here>", ":grey_question:", "is in state Paused&lt;!here&gt;"),
    ],
)
def test_state_emoji_and_words(state: str, emoji: str, phrase: str) -> None:
    assert state_emoji(SnapshotState(state)) == emoji
    assert state_phrase(state) == phrase


def test_user_mention_only_for_real_user_ids() -> None:
    assert user_mention("U012AB3CD") == "<@U012AB3CD>"
    assert user_mention("<!channel>") == "&lt;!channel&gt;"


def test_code_block_cuts_to_twenty_lines_and_counts_the_rest() -> None:
    log = "\n".join(f"line {i}" for i in range(1, 101))
    block = code_block(log)
    assert block.text.startswith("```\nline 1\n")
    assert block.text.endswith("line 20\n```")
    assert block.lines_hidden == 80


def test_code_block_cuts_a_huge_line_by_characters() -> None:
    block = code_block("x" * 1_000_000, max_chars=2500)
    assert len(block.text) <= 2500
    assert block.lines_hidden == 1  # the one line was not shown whole


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("`ab\n<&> "), max_size=3000))
def test_nothing_in_a_log_can_close_the_code_block(log: str) -> None:
    block = code_block(log)
    assert len(block.text) <= 2500
    body = block.text.removeprefix("```\n").removesuffix("\n```")
    assert "```" not in body
    assert not body.startswith("`") or body.startswith("`\u200b")
    check_mrkdwn(body)


def test_fit_lines_keeps_whole_lines_and_counts_the_rest() -> None:
    lines = [f"line {i} <@U{i}>" for i in range(1000)]
    text = fit_lines(lines, 500)
    assert len(text) <= 500
    kept = text.splitlines()
    assert kept[-1] == f"… and {1000 - (len(kept) - 1)} more"
    assert kept[:-1] == lines[: len(kept) - 1]
    assert fit_lines(lines[:3], 500) == "\n".join(lines[:3])
