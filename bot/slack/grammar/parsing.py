"""`/skyvia` command text -> a typed command, or a `UsageError` saying what was wrong.

Pure on purpose: handlers decide nothing about input until it parsed, so bad input never costs
a Skyvia call, and the whole grammar is testable without Slack. One parser per subcommand, here;
`alerts` has a grammar of its own (`bot.slack.grammar.alerts_words`), and the parts several
subcommands share sit beside this module: backup ids and names (`backup_refs`), the date words
(`date_words`), the ends after `for`/`until` (`deadlines`), mentions (`mentions`). The typed
commands are in `bot.slack.grammar.commands` and the usage lines in `bot.slack.grammar.usage`:
import them from there. A misspelt command is answered with the corrected whole command, in the
user's own words. The grammar as users see it: docs/reference/commands.md#input-rules.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable
from datetime import datetime

from bot.slack.grammar.alerts_words import ON_WORDS as _ON_WORDS
from bot.slack.grammar.alerts_words import alerts_command, deadline_words
from bot.slack.grammar.alerts_words import on_off as _on_off
from bot.slack.grammar.backup_refs import at_most as _at_most
from bot.slack.grammar.backup_refs import backup_ref as _backup_ref
from bot.slack.grammar.backup_refs import leading_name as _leading_name
from bot.slack.grammar.backup_refs import name_of as _name_of
from bot.slack.grammar.backup_refs import parse_id as _parse_id
from bot.slack.grammar.backup_refs import parse_number as _parse_number
from bot.slack.grammar.backup_refs import required_backup_id as _required_backup_id
from bot.slack.grammar.commands import (
    BackupCmd,
    BackupRef,
    BackupsCmd,
    Command,
    ConnectCmd,
    DigestCmd,
    DisconnectCmd,
    HealthCmd,
    HelpCmd,
    ScheduleCmd,
    SnapshotCmd,
    SnapshotsCmd,
    StatusCmd,
    SubscribeCmd,
    SubscriptionsCmd,
)
from bot.slack.grammar.date_words import Bound, Clock, parse_when
from bot.slack.grammar.deadlines import end_word_at, parse_clock
from bot.slack.grammar.usage import PART_USAGE, USAGE, UsageError
from bot.slack.grammar.usage import shown as _shown
from bot.slack.grammar.usage import unexpected as _unexpected
from bot.slack.grammar.usage import usage_error as _error

MAX_PAGE = 10_000
"""Pages are 10 items; Skyvia's int32 `skip` would overflow long before this matters."""


_CHANNEL_LINK = re.compile(r"<#[CG][A-Z0-9]{1,30}\|([^<>|]*)>")
"""Slack escapes command text (for mentions), so `#456` arrives as `<#C…|456>` when a channel
of that name exists: read back as the `#456` that was typed."""

_DIGITS = re.compile(r"[0-9]+")


def parse_command(text: str, *, now: datetime | None = None) -> Command:
    """Parse the text after `/skyvia`; raises `UsageError` and nothing else.

    `now` anchors relative dates (`today`, `7d`) and defaults to the current UTC time.
    """
    words = html.unescape(_CHANNEL_LINK.sub(r"#\1", text or "")).split()
    clock = Clock(now)
    try:
        return _parse(words, clock)
    except UsageError as error:
        _suggest(error, words, clock)
        raise


_MAX_FIXES = 3
_MAX_SUGGESTION = 150


def _parse(words: list[str], clock: Clock) -> Command:
    if not words:
        return HelpCmd()
    name, args = words[0].casefold(), words[1:]
    parser = _PARSERS.get(name)
    if parser is None:
        raise _unknown_subcommand(words[0])
    return parser(args, clock)


def _suggest(error: UsageError, words: list[str], clock: Clock) -> None:
    """Apply the error's fix (and the fixes of what still fails, a few times) to `words`.

    A corrected command that parses becomes the suggestion and replaces the usage. A misspelt
    subcommand whose arguments still fail is named alone, next to its usage; anything else
    keeps its usage and suggests nothing, rather than suggest another mistake.
    """
    fix, fixed = error.fix, words
    for _ in range(_MAX_FIXES):
        if fix is None:
            break
        fixed = fix(fixed)
        try:
            command = _parse(fixed, clock)
        except UsageError as again:
            fix = again.fix
            continue
        text = "help" if isinstance(command, HelpCmd) else " ".join(fixed)
        if len(text) <= _MAX_SUGGESTION:
            error.suggestion, error.usage = text, ""
        return


def _help(args: list[str], clock: Clock) -> Command:
    # `help snapshot` is a natural thing to type; answering it with an error would be hostile.
    return HelpCmd()


def _connect(args: list[str], clock: Clock) -> Command:
    _at_most(args, 1, "connect")
    if not args:
        return ConnectCmd(workspace_id=None)
    return ConnectCmd(workspace_id=_parse_id(args[0], "workspace id", "connect"))


def _disconnect(args: list[str], clock: Clock) -> Command:
    _at_most(args, 0, "disconnect")
    return DisconnectCmd()


def _status(args: list[str], clock: Clock) -> Command:
    _at_most(args, 0, "status")
    return StatusCmd()


MAX_FILTER_LENGTH = 40
"""Characters of a `backups <text>` filter kept: enough for any name fragment, and the filter
travels in button and menu values (`payloads`), whose size Slack caps (an overflow option's
value is at most 150 characters)."""


def _clean_filter(text: str) -> str:
    """The typed words without control characters, cut to `MAX_FILTER_LENGTH`."""
    printable = "".join(ch for ch in text if ch.isprintable())
    return " ".join(printable.split())[:MAX_FILTER_LENGTH].strip()


def _backups(args: list[str], clock: Clock) -> Command:
    name = _name_of(args)
    if name is not None and _clean_filter(name.text):
        return BackupsCmd(text=_clean_filter(name.text))
    _at_most(args, 1, "backups")
    if not args:
        return BackupsCmd()
    return BackupsCmd(page=_parse_number(args[0], "page number", "backups", MAX_PAGE))


def _backup(args: list[str], clock: Clock) -> Command:
    return BackupCmd(backup_id=_backup_ref(args, "backup"))


def _snapshot(args: list[str], clock: Clock) -> Command:
    return SnapshotCmd(backup_id=_backup_ref(args, "snapshot"))


_SNAPSHOTS_WORDS = ("failed", "since", "until")


def _snapshots(args: list[str], clock: Clock) -> Command:
    named = _leading_name(args, lambda word: word.casefold() in _SNAPSHOTS_WORDS)
    backup_id: BackupRef
    if named is not None:
        backup_id, index = named
    else:
        backup_id, index = _required_backup_id(args, "snapshots"), 1
    failed = False
    bounds: dict[str, Bound] = {}
    page: int | None = None
    while index < len(args):
        word, key = args[index], args[index].casefold()
        if key == "failed" and not failed:
            failed = True
        elif key in ("since", "until") and key not in bounds:
            index += 1
            if index == len(args):
                raise _error(f"`{key}` needs a date after it.", "snapshots")
            bounds[key] = Bound(key, args[index], index, _parse_when(args[index], key, clock))
        elif key in ("failed", "since", "until"):
            raise _error(f"`{key}` is given twice.", "snapshots")
        elif page is None and _DIGITS.fullmatch(word):
            page = _parse_number(word, "page number", "snapshots", MAX_PAGE)
        else:
            raise _unexpected(word, "snapshots", _SNAPSHOTS_WORDS)
        index += 1
    since, until = bounds.get("since"), bounds.get("until")
    if since is not None and until is not None and since.value >= until.value:
        raise _empty_range(since, until)
    return SnapshotsCmd(
        backup_id=backup_id,
        failed=failed,
        since=since.value if since else None,
        until=until.value if until else None,
        page=page or 1,
    )


def _empty_range(since: Bound, until: Bound) -> UsageError:
    """Since is not before until: say both in words, and offer them swapped."""
    precise = any(b.value.second or b.value.microsecond for b in (since, until))
    relation = "is after" if since.value > until.value else "is the same moment as"
    message = (
        f"`since {_shown(since.word)}` ({since.in_words(precise)}) {relation} "
        f"`until {_shown(until.word)}` ({until.in_words(precise)}), so no snapshot can match."
    )

    def swap(words: list[str]) -> list[str]:
        swapped = list(words)
        # Word positions count the subcommand; a bound's index counts from the backup id.
        swapped[since.index + 1], swapped[until.index + 1] = until.word, since.word
        return swapped

    return UsageError(message, USAGE["snapshots"], fix=swap)


def _schedule(args: list[str], clock: Clock) -> Command:
    end = end_word_at(args, 2)
    if end is None and len(args) > 2 and _name_of(args) is None:
        end = 2  # `456 off untill 18:00`: the window's own error names the word meant
    if end is not None and _ON_WORDS.get(args[end - 1].casefold()) is False:
        window = deadline_words(args[end:], "schedule")
        return ScheduleCmd(_backup_ref(args[: end - 1], "schedule"), enable=False, window=window)
    switch = args[-1].casefold() if len(args) > 1 else ""
    if switch in ("on", "off") and (name := _name_of(args[:-1])) is not None:
        return ScheduleCmd(backup_id=name, enable=switch == "on")
    if (name := _name_of(args)) is not None:
        return ScheduleCmd(backup_id=name)
    backup_id = _required_backup_id(args, "schedule")
    if len(args) == 1:
        return ScheduleCmd(backup_id=backup_id)
    _at_most(args, 2, "schedule")
    return ScheduleCmd(backup_id=backup_id, enable=_on_off(args[1], "schedule"))


def _health(args: list[str], clock: Clock) -> Command:
    _at_most(args, 1, "health")
    if not args:
        return HealthCmd()
    return HealthCmd(page=_parse_number(args[0], "page number", "health", MAX_PAGE))


def _digest(args: list[str], clock: Clock) -> Command:
    """`digest daily <HH:MM>|off`, or `digest` alone. Only `daily` exists: `digest 09:00` is
    answered with the corrected command rather than guessed, so the word stays free for a weekly
    digest later."""
    if not args:
        return DigestCmd()
    word = args[0].casefold()
    if word == "off":
        _at_most(args, 1, "digest")
        return DigestCmd(off=True)
    if parse_clock(args[0]) is not None:  # `digest 09:00`: the one kind there is

        def fix(words: list[str]) -> list[str]:
            return [words[0], "daily", *words[1:]]

        raise UsageError("Say how often: `daily`.", USAGE["digest"], fix=fix)
    if word != "daily":
        raise _unexpected(args[0], "digest", ("daily", "off"))
    if len(args) == 1:
        raise _error("`daily` needs a time after it, like `09:00` (your time zone).", "digest")
    _at_most(args, 2, "digest")
    at = parse_clock(args[1])
    if at is None:
        message = f"`{_shown(args[1])}` is not a time of day; use `HH:MM`, like `09:00`."
        raise _error(message, "digest")
    return DigestCmd(at=at)


def _subscribe(args: list[str], clock: Clock) -> Command:
    return _subscription(args, on=True)


def _unsubscribe(args: list[str], clock: Clock) -> Command:
    return _subscription(args, on=False)


def _subscription(args: list[str], *, on: bool) -> SubscribeCmd:
    key = "subscribe" if on else "unsubscribe"
    if not args:
        raise _error("Say which backup: its id, or `all`.", key)
    _at_most(args, 1, key)
    if args[0].casefold() == "all":
        return SubscribeCmd(backup_id=None, on=on)
    return SubscribeCmd(backup_id=_parse_id(args[0], "backup id", key), on=on)


def _subscriptions(args: list[str], clock: Clock) -> Command:
    _at_most(args, 0, "subscriptions")
    return SubscriptionsCmd()


_PARSERS: dict[str, Callable[[list[str], Clock], Command]] = {
    "help": _help,
    "connect": _connect,
    "disconnect": _disconnect,
    "status": _status,
    "backups": _backups,
    "backup": _backup,
    "snapshots": _snapshots,
    "snapshot": _snapshot,
    "schedule": _schedule,
    "alerts": alerts_command,
    "health": _health,
    "digest": _digest,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "subscriptions": _subscriptions,
}


def _parse_when(word: str, key: str, clock: Clock) -> datetime:
    try:
        return parse_when(word, key, clock)
    except ValueError:
        raise _error(
            f"`{_shown(word)}` is not a date; use `2024-05-01`, `2024-05-01T14:00Z`, "
            "`today`, `yesterday`, `7d` or `12h`.",
            "snapshots",
        ) from None


_ALIASES: dict[str, str] = {
    "mute": "alerts mute",
    "unmute": "alerts unmute",
    "on": "alerts on",
    "off": "alerts off",
    "run": "snapshot",
    "list": "backups",
}
"""Words people type for a subcommand they half remember -> what they meant."""


def _unknown_subcommand(word: str) -> UsageError:
    near = difflib.get_close_matches(word.casefold(), [*_PARSERS, *_ALIASES], n=1)
    if not near:
        message = f"`{_shown(word)}` is not a /skyvia command. `/skyvia help` lists them all."
        return UsageError(message, "")
    meant = _ALIASES.get(near[0], near[0])
    return UsageError(
        f"`{_shown(word)}` is not a /skyvia command.",
        PART_USAGE.get(meant) or USAGE[meant.split()[0]],
        meant,
        fix=lambda words: [*meant.split(), *words[1:]],
    )
