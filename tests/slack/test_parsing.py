"""The `/skyvia` grammar: examples, refusals, and properties over any input.

See docs/reference/commands.md#input-rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.grammar.backup_refs import MAX_ID
from bot.slack.grammar.commands import (
    AlertsCmd,
    BackupCmd,
    BackupName,
    BackupsCmd,
    Command,
    ConnectCmd,
    DigestCmd,
    DisconnectCmd,
    HealthCmd,
    HelpCmd,
    MentionCmd,
    MuteCmd,
    ScheduleCmd,
    SnapshotCmd,
    SnapshotsCmd,
    StaleCmd,
    StatusCmd,
    SubscribeCmd,
    SubscriptionsCmd,
)
from bot.slack.grammar.parsing import MAX_PAGE, parse_command
from bot.slack.grammar.usage import PART_USAGE, USAGE, UsageError

NOW = datetime(2024, 5, 10, 15, 30, tzinfo=UTC)
MIDNIGHT = datetime(2024, 5, 10, tzinfo=UTC)


def parse(text: str) -> Command:
    return parse_command(text, now=NOW)


def refusal(text: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpCmd()),
        ("   ", HelpCmd()),
        ("help", HelpCmd()),
        ("HELP snapshot", HelpCmd()),
        ("connect", ConnectCmd(workspace_id=None)),
        ("connect 123", ConnectCmd(workspace_id=123)),
        ("Connect #123", ConnectCmd(workspace_id=123)),
        ("disconnect", DisconnectCmd()),
        ("status", StatusCmd()),
        ("backups", BackupsCmd(page=1)),
        ("backups 3", BackupsCmd(page=3)),
        ("backup 456", BackupCmd(backup_id=456)),
        ("  SNAPSHOT   #456  ", SnapshotCmd(backup_id=456)),
        ("snapshot 0456", SnapshotCmd(backup_id=456)),
        (f"snapshot {MAX_ID}", SnapshotCmd(backup_id=MAX_ID)),
        ("snapshot\u00a0456", SnapshotCmd(backup_id=456)),
        ("snapshots 456", SnapshotsCmd(backup_id=456)),
        ("snapshots 456 FAILED", SnapshotsCmd(backup_id=456, failed=True)),
        ("schedule 456", ScheduleCmd(backup_id=456, enable=None)),
        ("schedule 456 on", ScheduleCmd(backup_id=456, enable=True)),
        ("schedule 456 OFF", ScheduleCmd(backup_id=456, enable=False)),
        ("schedule 456 enable", ScheduleCmd(backup_id=456, enable=True)),
        ("schedule 456 disable", ScheduleCmd(backup_id=456, enable=False)),
        ("alerts on", AlertsCmd(enabled=True)),
        ("alerts Off", AlertsCmd(enabled=False)),
        ("alerts mute 456", MuteCmd(backup_id=456, mute=True)),
        ("ALERTS UNMUTE #456", MuteCmd(backup_id=456, mute=False)),
        ("health", HealthCmd()),
        ("alerts mention off", MentionCmd(mention_ids=())),
        (
            "alerts MENTION <!subteam^S0ONCALL|@data-oncall>  <@U0DANA|dana> <@W0GRID> <@U0DANA>",
            MentionCmd(mention_ids=("S0ONCALL", "U0DANA", "W0GRID")),
        ),
        ("alerts mention <@U0AL|Al Smith>", MentionCmd(mention_ids=("U0AL",))),
        # With escaping on, Slack sends `#456` as a link when a channel of that name exists.
        ("backup <#C0CHAN|456>", BackupCmd(backup_id=456)),
        ("Health 2", HealthCmd(page=2)),
    ],
)
def test_valid_commands(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "since", "until"),
    [
        ("since 2024-05-01", datetime(2024, 5, 1, tzinfo=UTC), None),
        # A bare date as `until` includes that whole day.
        ("until 2024-05-01", None, datetime(2024, 5, 2, tzinfo=UTC)),
        ("since 2024-05-01T10:15:00Z", datetime(2024, 5, 1, 10, 15, tzinfo=UTC), None),
        ("since 2024-05-01T10:15:00", datetime(2024, 5, 1, 10, 15, tzinfo=UTC), None),
        ("since 2024-05-01T12:15:00+02:00", datetime(2024, 5, 1, 10, 15, tzinfo=UTC), None),
        ("since today", MIDNIGHT, None),
        ("until today", None, MIDNIGHT + timedelta(days=1)),
        ("since yesterday until yesterday", MIDNIGHT - timedelta(days=1), MIDNIGHT),
        ("since 7d", NOW - timedelta(days=7), None),
        ("since 12H", NOW - timedelta(hours=12), None),
        ("until 2024-05-09 since 2024-05-01", datetime(2024, 5, 1, tzinfo=UTC),
         datetime(2024, 5, 10, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_snapshot_date_filters(text: str, since: datetime | None, until: datetime | None) -> None:
    command = parse(f"snapshots 456 {text}")
    assert command == SnapshotsCmd(backup_id=456, since=since, until=until)


def test_filters_in_any_order_after_the_id() -> None:
    expected = SnapshotsCmd(
        backup_id=7, failed=True, since=NOW - timedelta(days=7), until=MIDNIGHT + timedelta(days=1)
    )
    assert parse("snapshots 7 failed since 7d until today") == expected
    assert parse("snapshots 7 until today failed since 7d") == expected
    assert parse("snapshots 7 since 7d until today FAILED") == expected


def test_relative_dates_default_to_the_current_time() -> None:
    before = datetime.now(UTC)
    command = parse_command("snapshots 1 since 1h")
    assert isinstance(command, SnapshotsCmd) and command.since is not None
    assert before - timedelta(hours=1, seconds=5) <= command.since <= datetime.now(UTC)


def test_html_entities_from_slack_are_decoded() -> None:
    assert parse("snapshot&#32;456") == SnapshotCmd(backup_id=456)
    error = refusal("snapshot &lt;456&gt;")
    assert "`<456>`" in error.message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("snapshots 4bc", "`4bc`"),  # `snapshots abc` names a backup instead
        ("snapshot 0", "`0`"),
        ("snapshot -5", "`-5`"),
        ("snapshot 4.5", "`4.5`"),
        (f"snapshot {MAX_ID + 1}", f"`{MAX_ID + 1}`"),
        ("snapshot ٤٥٦", "`٤٥٦`"),  # Arabic-Indic digits are not an id, although int() takes them
        ("snapshot 4_5", "`4_5`"),
        ("backup ##4", "`##4`"),
        ("connect x", "`x`"),
        ("backups 0", "`0`"),
        (f"backups {MAX_PAGE + 1}", f"`{MAX_PAGE + 1}`"),
    ],
)
def test_bad_numbers_are_named(text: str, named: str) -> None:
    error = refusal(text)
    assert named in error.message
    assert error.usage == USAGE[text.split()[0]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('snapshot "Nightly CRM"', SnapshotCmd(backup_id=BackupName("Nightly CRM"))),
        ("snapshot nightly", SnapshotCmd(backup_id=BackupName("nightly"))),
        ("snapshot \u201cNightly  CRM\u201d", SnapshotCmd(backup_id=BackupName("Nightly CRM"))),
        ("backup Zendesk tickets", BackupCmd(backup_id=BackupName("Zendesk tickets"))),
        ("snapshot #456", SnapshotCmd(backup_id=456)),
        (
            "schedule nightly crm off",
            ScheduleCmd(backup_id=BackupName("nightly crm"), enable=False),
        ),
        ("schedule nightly", ScheduleCmd(backup_id=BackupName("nightly"))),
        ("alerts mute Zendesk", MuteCmd(backup_id=BackupName("Zendesk"), mute=True)),
    ],
)
def test_a_name_stands_for_an_id(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_a_huge_number_is_refused_and_quoted_short() -> None:
    error = refusal("snapshot " + "9" * 10_000)
    assert "out of range" in error.message
    assert len(error.message) < 200


@pytest.mark.parametrize(
    ("text", "fragment", "suggestion"),
    [
        ("snapshto 456", "`snapshto` is not a /skyvia command", "snapshot 456"),
        ("SNAPSHOTSS 456", "`SNAPSHOTSS` is not a /skyvia command", "snapshots 456"),
        ("stauts", "`stauts`", "status"),
        ("xyzzy", "`xyzzy`", None),
        ("snapshot", "backup id is missing", None),
        ("snapshot 456 now", "Unexpected `now`", None),
        ("status please", "Unexpected `please`", None),
        ("disconnect 4", "Unexpected `4`", None),
        ("snapshots 456 faild", "Unexpected `faild`", "snapshots 456 failed"),
        ("snapshots 456 since", "`since` needs a date", None),
        ("snapshots 456 since tomorrow", "`tomorrow` is not a date", None),
        ("snapshots 456 since 2024-13-01", "`2024-13-01` is not a date", None),
        ("snapshots 456 since 99999999d", "`99999999d` is not a date", None),
        ("snapshots 456 since 999999d", "`999999d` is not a date", None),
        ("snapshots 456 failed failed", "`failed` is given twice", None),
        ("snapshots 456 since 1d since 2d", "`since` is given twice", None),
        (
            "snapshots 456 since 2024-05-02 until 2024-05-01T00:00Z",
            "is after",
            "snapshots 456 since 2024-05-01T00:00Z until 2024-05-02",
        ),
        (
            "snapshots 456 since 2024-05-01 until 2024-04-30",
            "is the same moment as",
            "snapshots 456 since 2024-04-30 until 2024-05-01",
        ),
        ("schedule 456 maybe", "Unexpected `maybe`", None),
        ("schedule 456 on now", "Unexpected `now`", None),
        ("alerts", "on", None),
        ("alerts of", "Unexpected `of`", "alerts off"),
        ("alerts mute", "backup id is missing", None),
        ("alerts on off", "Unexpected `off`", None),
    ],
)
def test_refusals_say_what_was_wrong(text: str, fragment: str, suggestion: str | None) -> None:
    error = refusal(text)
    assert fragment in error.message
    assert error.suggestion == suggestion
    assert_says_how_to_go_on(error)


def assert_says_how_to_go_on(error: UsageError) -> None:
    """A usage line, or a corrected command that parses (then nothing else), or where help is."""
    if error.usage:
        assert error.usage.strip()
    elif error.suggestion is not None:
        parse(error.suggestion)  # the hint is never another mistake
    else:
        assert "`/skyvia help`" in error.message


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("mute 456", "alerts mute 456"),
        ("Unmute #456", "alerts unmute #456"),
        ("muet 456", "alerts mute 456"),
        ("off", "alerts off"),
        ("snapshto 456", "snapshot 456"),
        ("SNAPSHTOS 456 failed since 7d", "snapshots 456 failed since 7d"),
        ("shedule 456 of", "schedule 456 off"),  # two words fixed
        ("alert of", "alerts off"),
        ("snapshots 456 faild sinse 7d", "snapshots 456 failed since 7d"),
        ("snapshtos 456 faild sinse 7d", "snapshots 456 failed since 7d"),  # three fixes
        ("hlep me please", "help"),
        ("bakcups 2", "backups 2"),
    ],
)
def test_a_misspelt_command_is_suggested_whole_with_its_arguments(
    text: str, suggestion: str
) -> None:
    error = refusal(text)
    assert error.suggestion == suggestion
    assert error.usage == ""  # the corrected command is the whole hint
    parse(suggestion)


def test_a_misspelt_subcommand_whose_arguments_do_not_parse_names_it_with_its_usage() -> None:
    error = refusal("snapshto")
    assert (error.suggestion, error.usage) == ("snapshot", USAGE["snapshot"])
    error = refusal("mute 4.5")  # `mute abc` would name a backup
    assert (error.suggestion, error.usage) == ("alerts mute", PART_USAGE["alerts mute"])


def test_an_unknown_subcommand_with_nothing_near_points_at_help_only() -> None:
    error = refusal("xyzzy 1 2 3")
    assert error.message == "`xyzzy` is not a /skyvia command. `/skyvia help` lists them all."
    assert (error.suggestion, error.usage) == (None, "")


@pytest.mark.parametrize(
    ("filters", "message", "swapped"),
    [
        (
            "since 2024-05-02 until 2024-04-30",
            "`since 2024-05-02` (the start of 2 May 2024, UTC) is after "
            "`until 2024-04-30` (the end of 30 Apr 2024, UTC), so no snapshot can match.",
            "since 2024-04-30 until 2024-05-02",
        ),
        (
            "failed until 7d since today",
            "`since today` (the start of 10 May 2024, UTC) is after "
            "`until 7d` (3 May 2024, 15:30 UTC), so no snapshot can match.",
            "failed until today since 7d",
        ),
        (
            "since 2024-05-01T10:15:30+02:00 until 2024-05-01T08:15Z",
            "`since 2024-05-01T10:15:30+02:00` (1 May 2024, 08:15:30 UTC) is after "
            "`until 2024-05-01T08:15Z` (1 May 2024, 08:15:00 UTC), so no snapshot can match.",
            "since 2024-05-01T08:15Z until 2024-05-01T10:15:30+02:00",
        ),
        (
            "since 2024-05-01 until 2024-04-30",
            "`since 2024-05-01` (the start of 1 May 2024, UTC) is the same moment as "
            "`until 2024-04-30` (the end of 30 Apr 2024, UTC), so no snapshot can match.",
            "since 2024-04-30 until 2024-05-01",
        ),
        (
            "since 7d until 7d",
            "`since 7d` (3 May 2024, 15:30 UTC) is the same moment as "
            "`until 7d` (3 May 2024, 15:30 UTC), so no snapshot can match.",
            None,  # swapping changes nothing: no suggestion
        ),
    ],
)
def test_dates_the_wrong_way_round_are_said_in_words_with_the_users_terms(
    filters: str, message: str, swapped: str | None
) -> None:
    error = refusal(f"snapshots 456 {filters}")
    assert error.message == message
    assert error.suggestion == (f"snapshots 456 {swapped}" if swapped else None)
    assert "T00:00:00" not in error.message and "+00:00" not in error.message
    assert_says_how_to_go_on(error)


def test_since_just_before_until_still_matches_something() -> None:
    command = parse("snapshots 456 since 2024-04-30T23:59:59.999999Z until 2024-04-30")
    assert isinstance(command, SnapshotsCmd) and command.since is not None
    assert command.until == command.since + timedelta(microseconds=1)


def test_backticks_in_input_cannot_break_the_quoted_value() -> None:
    error = refusal("snapshot `4`")
    assert error.message.count("`") == 2


def test_every_usage_example_parses() -> None:
    examples = [
        example
        for line in USAGE.values()
        for example in re.findall(r"e\.g\. `/skyvia ([^`]*)`", line)
    ]
    assert len(examples) >= 7
    for example in examples:
        parse(example)  # raises on a broken example


def test_usage_covers_every_subcommand() -> None:
    for name in USAGE:
        parsed_or_refused: Command | UsageError
        try:
            parsed_or_refused = parse(name)
        except UsageError as error:
            parsed_or_refused = error
        # A known subcommand is never answered with "not a /skyvia command".
        if isinstance(parsed_or_refused, UsageError):
            assert "not a /skyvia command" not in parsed_or_refused.message


# -- properties --------------------------------------------------------------------------------

_words = st.sampled_from(
    ["snapshot", "snapshots", "backup", "backups", "schedule", "alerts", "connect", "mute",
     "unmute", "on", "off", "failed", "since", "until", "today", "7d", "12h", "#", "&lt;",
     "&amp;", "&gt;", "2024-05-01", "2024-05-01T10:00Z", str(MAX_ID), str(MAX_ID + 1), "0",
     "-1", "9" * 50, "help", "status"]
)  # fmt: skip
_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_words, st.text(max_size=12)), max_size=8).map(" ".join),
    st.lists(st.one_of(_words, st.integers().map(str)), max_size=6).map(" ".join),
)


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_any_text_is_a_command_or_a_usage_error(text: str) -> None:
    try:
        command = parse(text)
    except UsageError as error:
        assert error.message
        assert_says_how_to_go_on(error)
        return
    assert isinstance(command, Command)  # type: ignore[arg-type]


_out_of_range = st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_ID + 1))


@settings(max_examples=200, deadline=None)
@given(_out_of_range, st.sampled_from(["snapshot", "backup", "schedule", "snapshots"]))
def test_ids_outside_the_range_are_always_refused(value: int, subcommand: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(f"{subcommand} {value}")
    assert str(value)[:30] in caught.value.message


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_ID), st.booleans())
def test_ids_in_range_are_accepted_with_or_without_hash(value: int, hashed: bool) -> None:
    text = f"backup {'#' if hashed else ''}{value}"
    assert parse(text) == BackupCmd(backup_id=value)


_ids = st.integers(min_value=1, max_value=MAX_ID)
_moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def _snapshots_commands(draw: st.DrawFn) -> SnapshotsCmd:
    # Distinct: since is inclusive and until exclusive, so equal bounds are an empty range.
    bounds = sorted(draw(st.lists(_moments, min_size=2, max_size=2, unique=True)))
    since = bounds[0] if draw(st.booleans()) else None
    until = bounds[1] if draw(st.booleans()) else None
    return SnapshotsCmd(backup_id=draw(_ids), failed=draw(st.booleans()), since=since, until=until)


_commands: st.SearchStrategy[Command] = st.one_of(
    st.just(HelpCmd()),
    st.builds(ConnectCmd, workspace_id=st.none() | _ids),
    st.just(DisconnectCmd()),
    st.just(StatusCmd()),
    st.builds(BackupsCmd, page=st.integers(min_value=1, max_value=MAX_PAGE)),
    st.builds(BackupCmd, backup_id=_ids),
    _snapshots_commands(),
    st.builds(SnapshotCmd, backup_id=_ids),
    st.builds(ScheduleCmd, backup_id=_ids, enable=st.none() | st.booleans()),
    st.builds(AlertsCmd, enabled=st.booleans()),
    st.builds(MuteCmd, backup_id=_ids, mute=st.booleans()),
    st.builds(HealthCmd, page=st.integers(min_value=1, max_value=MAX_PAGE)),
)


def format_command(command: Command) -> str:
    """The text that parses back to `command` (dates in ISO UTC, so nothing is lost): the
    inverse of `parse_command`, for the round-trip property below."""
    match command:
        case HelpCmd():
            return "help"
        case ConnectCmd(workspace_id=None):
            return "connect"
        case ConnectCmd(workspace_id=workspace_id):
            return f"connect {workspace_id}"
        case DisconnectCmd():
            return "disconnect"
        case StatusCmd():
            return "status"
        case BackupsCmd(page=page):
            return f"backups {page}"
        case BackupCmd(backup_id=backup_id):
            return f"backup {backup_id}"
        case SnapshotsCmd():
            parts = [f"snapshots {command.backup_id}"]
            if command.failed:
                parts.append("failed")
            if command.since is not None:
                parts.append(f"since {_iso_utc(command.since)}")
            if command.until is not None:
                parts.append(f"until {_iso_utc(command.until)}")
            return " ".join(parts)
        case SnapshotCmd(backup_id=backup_id):
            return f"snapshot {backup_id}"
        case ScheduleCmd(backup_id=backup_id, enable=None):
            return f"schedule {backup_id}"
        case ScheduleCmd(backup_id=backup_id, enable=enable):
            return f"schedule {backup_id} {'on' if enable else 'off'}"
        case AlertsCmd(enabled=enabled):
            return f"alerts {'on' if enabled else 'off'}"
        case MuteCmd(backup_id=backup_id, mute=mute):
            return f"alerts {'mute' if mute else 'unmute'} {backup_id}"
        case HealthCmd(page=page):
            return f"health {page}"
    raise TypeError(f"not a command: {command!r}")


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@settings(max_examples=300, deadline=None)
@given(_commands, st.sampled_from([" ", "  ", "\t", " \u00a0 "]), st.booleans())
def test_formatting_a_command_parses_back_to_it(command: Command, gap: str, upper: bool) -> None:
    text = format_command(command)
    assert parse(text) == command
    # Case and spacing do not matter either.
    words = text.split(" ")
    varied = gap.join([words[0].upper() if upper else words[0], *words[1:]])
    assert parse(f" {varied} ") == command


# -- edges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("subcommand", ["backup", "snapshot", "schedule", "snapshots", "connect"])
@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("1", 1),
        ("0", None),
        (str(MAX_ID - 1), MAX_ID - 1),
        (str(MAX_ID), MAX_ID),
        (f"#{MAX_ID}", MAX_ID),
        ("0" * 30 + str(MAX_ID), MAX_ID),  # leading zeros do not make it longer
        (str(MAX_ID + 1), None),
        ("0" * 30 + str(MAX_ID + 1), None),
        ("9" * 10, None),  # as many digits as MAX_ID, and larger
    ],
)
def test_ids_at_the_int32_edge(subcommand: str, word: str, value: int | None) -> None:
    if value is None:
        error = refusal(f"{subcommand} {word}")
        assert f"between 1 and {MAX_ID}" in error.message or "out of range" in error.message
        return
    command = parse(f"{subcommand} {word}")
    assert value in (getattr(command, "backup_id", None), getattr(command, "workspace_id", None))


@pytest.mark.parametrize(
    ("word", "page"), [("1", 1), (str(MAX_PAGE - 1), MAX_PAGE - 1), (str(MAX_PAGE), MAX_PAGE)]
)
def test_pages_up_to_the_last_one(word: str, page: int) -> None:
    assert parse(f"backups {word}") == BackupsCmd(page=page)


@pytest.mark.parametrize("word", ["0", str(MAX_PAGE + 1)])
def test_pages_beyond_the_range_are_refused(word: str) -> None:
    assert f"between 1 and {MAX_PAGE}" in refusal(f"backups {word}").message


@pytest.mark.parametrize(
    ("length", "shown"), [(39, "y" * 39), (40, "y" * 40), (41, "y" * 39 + "…")]
)
def test_quoted_input_is_cut_at_40_characters(length: int, shown: str) -> None:
    # `health` takes only a page number (`snapshots yyy` would name a backup).
    assert refusal(f"health {'y' * length}").message.startswith(f"`{shown}` is not")


@pytest.mark.parametrize(
    ("word", "ok"), [("999999h", True), ("1000000h", False), ("0d", True), ("d", False)]
)
def test_relative_dates_take_up_to_six_digits(word: str, ok: bool) -> None:
    if ok:
        assert isinstance(parse(f"snapshots 1 since {word}"), SnapshotsCmd)
    else:
        assert "is not a date" in refusal(f"snapshots 1 since {word}").message


@pytest.mark.parametrize(("zeros", "whole"), [(137, True), (138, True), (139, False)])
def test_a_suggestion_is_whole_up_to_150_characters(zeros: int, whole: bool) -> None:
    corrected = f"snapshot {'0' * zeros}456"
    error = refusal(f"snapshto {'0' * zeros}456")
    if whole:
        assert len(corrected) <= 150
        assert (error.suggestion, error.usage) == (corrected, "")
    else:
        assert (error.suggestion, error.usage) == ("snapshot", USAGE["snapshot"])


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("alerts mention @dana", "`@dana`"),
        ("alerts mention <!channel>", "`<!channel>`"),
        ("alerts mention <@U0DANA|dana> and", "`and`"),
        ("alerts mention <#C0OPS|ops>", "`#ops`"),
    ],
)
def test_a_mention_that_is_not_a_user_or_group_is_refused_by_name(text: str, named: str) -> None:
    error = refusal(text)
    assert named in error.message and "not a Slack user or user group" in error.message
    assert "alerts mention" in error.usage


def test_mentions_are_bounded_and_need_someone() -> None:
    many = " ".join(f"<@U{n:04d}>" for n in range(11))
    assert "At most 10" in refusal(f"alerts mention {many}").message
    assert "`off`" in refusal("alerts mention").message


# -- alerts stale ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alerts stale 456 26h", StaleCmd(456, limit_seconds=26 * 3600)),
        ("ALERTS Stale #456 1h30m", StaleCmd(456, limit_seconds=5400)),
        ("alerts stale 456 600s", StaleCmd(456, limit_seconds=600)),  # the shortest, 10 min
        ("alerts stale 456 1d", StaleCmd(456, limit_seconds=86400)),
        ("alerts stale 456 30d", StaleCmd(456, limit_seconds=30 * 86400)),
        ("alerts stale 456 auto", StaleCmd(456)),
        ("alerts stale 456 off", StaleCmd(456, off=True)),
    ],
)
def test_alerts_stale_reads_durations_auto_and_off(text: str, expected: StaleCmd) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "alerts stale",
        "alerts stale 456",
        "alerts stale 4x 2h",
        "alerts stale nightly",
        "alerts stale 456 31d",
        "alerts stale 456 0s",
        "alerts stale 456 90s",  # under 10 minutes
        "alerts stale 456 599s",
        "alerts stale 456 soon",
        "alerts stale 456 2h extra",
    ],
)
def test_bad_alerts_stale_input_gets_the_usage(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert "alerts stale <backupId>" in caught.value.usage


# -- alerts overdue ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alerts overdue 456 2h", StaleCmd(456, limit_seconds=7200, overdue=True)),
        ("ALERTS Overdue #456 1h30m", StaleCmd(456, limit_seconds=5400, overdue=True)),
        ("alerts overdue 456 auto", StaleCmd(456, overdue=True)),
        ("alerts overdue 456 off", StaleCmd(456, off=True, overdue=True)),
        (
            "alerts overdue nightly crm 2h",
            StaleCmd(BackupName("nightly crm"), limit_seconds=7200, overdue=True),
        ),
    ],
)
def test_alerts_overdue_reads_a_backup_and_a_duration_auto_or_off(
    text: str, expected: StaleCmd
) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["alerts overdue", "alerts overdue 456", "alerts overdue 456 5m", "alerts overdue 456 soon"],
)
def test_bad_alerts_overdue_input_gets_its_own_usage(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert "alerts overdue <backupId>" in caught.value.usage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest", DigestCmd()),
        ("digest daily 09:00", DigestCmd(at=time(9, 0))),
        ("DIGEST Daily 9:30", DigestCmd(at=time(9, 30))),
        ("digest daily 0:00", DigestCmd(at=time(0, 0))),
        ("digest daily 23:59", DigestCmd(at=time(23, 59))),
        ("digest  off", DigestCmd(off=True)),
    ],
)
def test_digest_reads_a_daily_time_or_off(text: str, expected: DigestCmd) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("digest daily", "needs a time"),
        ("digest daily 24:00", "`24:00` is not a time of day"),
        ("digest daily 9:60", "`9:60` is not a time of day"),
        ("digest daily 0900", "`0900` is not a time of day"),
        ("digest daily 09:00 utc", "Unexpected `utc`"),
        ("digest off now", "Unexpected `now`"),
        ("digest weekly 09:00", "Unexpected `weekly`"),
    ],
)
def test_bad_digest_input_gets_the_usage(text: str, fragment: str) -> None:
    error = refusal(text)
    assert fragment in error.message
    assert "digest daily <HH:MM>" in error.usage


def test_a_digest_time_without_daily_is_offered_with_it() -> None:
    error = refusal("digest 09:00")
    assert error.suggestion == "digest daily 09:00"
    assert parse(error.suggestion) == DigestCmd(at=time(9, 0))
    assert refusal("digets daily 9:00").suggestion == "digest daily 9:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribe 456", SubscribeCmd(456)),
        ("SUBSCRIBE #456", SubscribeCmd(456)),
        ("subscribe All", SubscribeCmd(None)),
        ("unsubscribe 456", SubscribeCmd(456, on=False)),
        ("unsubscribe all", SubscribeCmd(None, on=False)),
        ("subscriptions", SubscriptionsCmd()),
    ],
)
def test_subscriptions_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("subscribe", "Say which backup: its id, or `all`."),
        ("subscribe crm", "`crm`"),
        ("subscribe 0", "0"),
        ("unsubscribe 456 789", "Unexpected `789`."),
        ("subscriptions all", "Unexpected `all`."),
    ],
)
def test_bad_subscriptions_say_what_was_wrong_with_the_usage(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert says in caught.value.message
    assert caught.value.usage == USAGE[text.split()[0]] or caught.value.suggestion


def test_a_misspelt_subscribe_is_suggested() -> None:
    with pytest.raises(UsageError) as caught:
        parse("subscibe 456")
    assert caught.value.suggestion == "subscribe 456"
