"""Durations and times after `for` / `until`, and their refusals, as parsed and resolved."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.slack.grammar.commands import BackupName, MuteCmd, ScheduleCmd
from bot.slack.grammar.deadlines import (
    MAX_SPAN,
    Deadline,
    DeadlineError,
    _quoted,
    parse_deadline,
    parse_duration,
)
from bot.slack.grammar.parsing import parse_command
from bot.slack.grammar.usage import UsageError

NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the day before Europe's spring DST change


@pytest.mark.parametrize(
    ("word", "span"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1D2H", timedelta(days=1, hours=2)),
        ("30d", timedelta(days=30)),
        ("720h", timedelta(days=30)),
        ("1d1h1m1s", timedelta(days=1, hours=1, minutes=1, seconds=1)),
    ],
)
def test_durations(word: str, span: timedelta) -> None:
    assert parse_duration(word) == span


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("", "use a duration"),
        ("2", "use a duration"),
        ("h", "use a duration"),
        ("2x", "use a duration"),
        ("30m1h", "use a duration"),  # units out of order
        ("1h1h", "use a duration"),
        ("-2h", "use a duration"),
        ("1.5h", "use a duration"),
        ("٢h", "use a duration"),  # non-ASCII digits
        ("0m", "longer than zero"),
        ("31d", "longer than 30 days"),
        ("30d1s", "longer than 30 days"),
        ("721h", "longer than 30 days"),
        ("99999999999d", "use a duration"),
    ],
)
def test_duration_refusals(word: str, reason: str) -> None:
    with pytest.raises(DeadlineError, match=reason):
        parse_duration(word)


def test_for_resolves_from_now() -> None:
    assert parse_deadline("for", "2h").resolve(NOW, "Europe/Berlin") == NOW + timedelta(hours=2)


def test_clock_time_is_the_next_one_in_the_persons_zone() -> None:
    later_today = parse_deadline("until", "18:00")
    assert later_today.clock == time(18, 0)
    # 12:00 UTC is 13:00 in Berlin (CET): 18:00 Berlin is 17:00 UTC the same day.
    assert later_today.resolve(NOW, "Europe/Berlin") == datetime(2026, 3, 28, 17, tzinfo=UTC)
    # 09:00 has passed there: tomorrow, which is summer time (CEST, UTC+2) by then.
    tomorrow = parse_deadline("until", "9:00").resolve(NOW, "Europe/Berlin")
    assert tomorrow == datetime(2026, 3, 29, 7, tzinfo=UTC)


def test_clock_time_without_a_known_zone_is_utc() -> None:
    deadline = parse_deadline("until", "23:59")
    expected = datetime(2026, 3, 28, 23, 59, tzinfo=UTC)
    assert deadline.resolve(NOW, None) == expected
    assert deadline.resolve(NOW, "Not/AZone") == expected


def test_iso_times_with_and_without_offset() -> None:
    aware = parse_deadline("until", "2026-03-29T10:00Z").resolve(NOW, "America/New_York")
    assert aware == datetime(2026, 3, 29, 10, tzinfo=UTC)
    naive = parse_deadline("until", "2026-03-29T10:00").resolve(NOW, "America/New_York")
    assert naive == datetime(2026, 3, 29, 14, tzinfo=UTC)  # EDT, UTC-4


@pytest.mark.parametrize("word", ["2026-03-28T11:00Z", "2026-04-28T12:00:01Z"])
def test_iso_times_past_or_beyond_30_days_are_refused(word: str) -> None:
    with pytest.raises(DeadlineError, match=r"already past|more than 30 days"):
        parse_deadline("until", word).resolve(NOW, None)


@pytest.mark.parametrize("word", ["24:00", "18:60", "1800", "6pm", "2026-03-29", "tomorrow", "x"])
def test_time_refusals(word: str) -> None:
    with pytest.raises(DeadlineError, match="use a time like"):
        parse_deadline("until", word)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("alerts mute 456 for 2h", MuteCmd(456, True, Deadline("2h", span=timedelta(hours=2)))),
        ("ALERTS MUTE #456 UNTIL 18:00", MuteCmd(456, True, Deadline("18:00", clock=time(18)))),
        (
            "schedule 456 off for 1h30m",
            ScheduleCmd(456, False, Deadline("1h30m", span=timedelta(minutes=90))),
        ),
        (
            "schedule 456 disable until 7:05",
            ScheduleCmd(456, False, Deadline("7:05", clock=time(7, 5))),
        ),
        # A backup by name takes the same ends; the last `for`/`until` starts the end.
        (
            "alerts mute Nightly CRM for 2h",
            MuteCmd(BackupName("Nightly CRM"), True, Deadline("2h", span=timedelta(hours=2))),
        ),
        (
            'schedule "Nightly CRM" off until 18:00',
            ScheduleCmd(BackupName("Nightly CRM"), False, Deadline("18:00", clock=time(18))),
        ),
        ("alerts mute Nightly CRM", MuteCmd(BackupName("Nightly CRM"), True)),
        ("schedule nightly off", ScheduleCmd(BackupName("nightly"), False)),
    ],
)
def test_grammar(text: str, command: object) -> None:
    assert parse_command(text, now=NOW) == command


@pytest.mark.parametrize(
    ("text", "message", "suggestion"),
    [
        ("alerts mute 456 for", "`for` needs a duration", None),
        ("alerts mute 456 until", "`until` needs a time", None),
        ("alerts mute 456 for 31d", "longer than 30 days", None),
        ("alerts mute 456 for soon", "use a duration like", None),
        ("alerts mute 456 until 25:00", "use a time like", None),
        ("alerts mute 456 for 2h now", "Unexpected `now`", None),
        ("alerts mute 456 fro 2h", "Unexpected `fro`", "alerts mute 456 for 2h"),
        ("alerts unmute 456 for 2h", "Unexpected `for 2h`", None),
        ("schedule 456 on for 2h", "Unexpected `for 2h`", None),
        ("schedule 456 off for 0s", "longer than zero", None),
        ("schedule 456 off untill 18:00", "Unexpected `untill`", "schedule 456 off until 18:00"),
    ],
)
def test_grammar_refusals(text: str, message: str, suggestion: str | None) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command(text, now=NOW)
    assert message in caught.value.message
    assert caught.value.suggestion == suggestion
    if suggestion is None:
        # An error shows the usage of the part typed: unmute has no end to give.
        part = "alerts unmute <backupId>`" if "unmute" in text else "for <duration>|until <time>"
        assert part in caught.value.usage


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("alerts mute 456 for 2 hours", "alerts mute 456 for 2h"),
        ("alerts mute 456 for 2hours", "alerts mute 456 for 2h"),
        ("alerts mute 456 for 1 hour 30 mins", "alerts mute 456 for 1h30m"),
        ("schedule Nightly CRM off for 90 minutes", "schedule Nightly CRM off for 90m"),
        ("alerts stale 456 2 h", "alerts stale 456 2h"),
        ("alerts stale 456 1 day", "alerts stale 456 1d"),
    ],
)
def test_a_duration_written_out_is_answered_with_the_command_as_it_reads(
    text: str, suggestion: str
) -> None:
    """docs/reference/commands.md#input-rules: the corrected whole command, nothing else."""
    with pytest.raises(UsageError) as caught:
        parse_command(text, now=NOW)
    assert "is not how a duration is written here" in caught.value.message
    assert (caught.value.suggestion, caught.value.usage) == (suggestion, "")


@pytest.mark.parametrize("text", ["alerts mute 456 for 2 fortnights", "alerts stale 456 40 days"])
def test_a_written_out_duration_that_still_does_not_work_gets_no_suggestion(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command(text, now=NOW)
    assert caught.value.suggestion is None
    assert caught.value.usage


def test_a_clock_time_of_exactly_now_is_tomorrow() -> None:
    assert parse_deadline("until", "12:00").resolve(NOW, None) == NOW + timedelta(days=1)


def test_an_end_of_exactly_now_is_past_and_exactly_30_days_away_is_accepted() -> None:
    with pytest.raises(DeadlineError, match="already past"):
        parse_deadline("until", "2026-03-28T12:00Z").resolve(NOW, None)
    last = parse_deadline("until", "2026-04-27T12:00Z").resolve(NOW, None)
    assert last == NOW + MAX_SPAN


def test_quoted_input_is_cut_past_40_characters_to_40() -> None:
    assert _quoted("a" * 40) == "a" * 40
    assert _quoted("a" * 41) == "a" * 39 + "…"
    assert _quoted("`x`") == "'x'"
