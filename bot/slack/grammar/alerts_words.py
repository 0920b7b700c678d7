"""`alerts on|off`, `alerts mute|unmute`, `alerts stale|overdue`, `alerts mention`: the grammar of a
channel's alerts, and the ends after `for`/`until` that mutes and windows share.

Each part's mistakes show that part's usage only (`bot.slack.grammar.usage.PART_USAGE`), and a
duration written out (`for 2 hours`) is answered with the command as it reads (`for 2h`):
docs/reference/commands.md#input-rules. The shortest stale and overdue limits are the alerting
checks' own (`MIN_LIMIT` of `bot.services.alerting.staleness` and `.overdue`), imported from
there, so the grammar refuses a limit those checks would misfire on.
"""

from __future__ import annotations

from bot.services.alerting.overdue import MIN_LIMIT as MIN_OVERDUE_LIMIT
from bot.services.alerting.staleness import MIN_LIMIT as MIN_STALE_LIMIT
from bot.slack.grammar.backup_refs import at_most as _at_most
from bot.slack.grammar.backup_refs import backup_ref as _backup_ref
from bot.slack.grammar.backup_refs import name_of as _name_of
from bot.slack.grammar.backup_refs import required_backup_id as _required_backup_id
from bot.slack.grammar.commands import (
    AlertsCmd,
    BackupName,
    BackupRef,
    Command,
    MentionCmd,
    MuteCmd,
    StaleCmd,
)
from bot.slack.grammar.date_words import Clock
from bot.slack.grammar.deadlines import (
    Deadline,
    DeadlineError,
    deadline_from,
    end_word_at,
    parse_duration,
    spelled_duration,
)
from bot.slack.grammar.mentions import MentionError, mention_ids
from bot.slack.grammar.usage import UsageError, usage_of
from bot.slack.grammar.usage import shown as _shown
from bot.slack.grammar.usage import unexpected as _unexpected
from bot.slack.grammar.usage import usage_error as _error

ON_WORDS = {"on": True, "enable": True, "off": False, "disable": False}
"""The words for on and off, in `alerts` and `schedule` alike."""

_ALERTS_WORDS = (
    "on",
    "off",
    "enable",
    "disable",
    "mute",
    "unmute",
    "stale",
    "overdue",
    "mention",
)


def alerts_command(args: list[str], clock: Clock) -> Command:
    """Each part's mistakes show that part's usage only (`bot.slack.grammar.usage.PART_USAGE`)."""
    if not args:
        raise _error("Say whether to turn alerts `on` or `off`, or which backup to mute.", "alerts")
    word = args[0].casefold()
    if word == "mention":
        return _mention(args[1:])
    if word in ("stale", "overdue"):
        return _stale(args[1:], overdue=word == "overdue")
    if word in ("mute", "unmute"):
        return _mute(args, word)
    if word not in ON_WORDS:
        raise _unexpected(args[0], "alerts", _ALERTS_WORDS)
    _at_most(args, 1, "alerts on")
    return AlertsCmd(enabled=on_off(args[0], "alerts on"))


def _mute(args: list[str], word: str) -> Command:
    key = f"alerts {word}"
    end = end_word_at(args, 2)
    if end is None and len(args) > 2 and _name_of(args[1:]) is None:
        end = 2  # `mute 456 fro 2h`: the deadline's own error names the word meant
    if word == "mute" and end is not None:
        return MuteCmd(_backup_ref(args[1:end], key), True, deadline_words(args[end:], key))
    return MuteCmd(backup_id=_backup_ref(args[1:], key), mute=word == "mute")


def _mention(args: list[str]) -> Command:
    if len(args) == 1 and args[0].casefold() == "off":
        return MentionCmd(mention_ids=())
    try:
        return MentionCmd(mention_ids=mention_ids(args))
    except MentionError as error:
        raise _error(str(error), "alerts mention") from None


def _stale(args: list[str], *, overdue: bool) -> StaleCmd:
    """`<id|name> <limit>`: a name is every word before the limit, the last word; the same
    grammar for how old a backup's last good snapshot may get and how long its run may take."""
    key = "alerts overdue" if overdue else "alerts stale"
    if len(args) > 1 and (name := _name_of(args[:-1])) is not None:
        return _stale_limit(name, args[-1:], 2 + len(args) - 1, args, overdue)
    backup_id = _name_of(args) or _required_backup_id(args, key)
    if len(args) < 2 or isinstance(backup_id, BackupName):
        raise _error("Say the limit: a duration, `auto` or `off`.", key)
    return _stale_limit(backup_id, args[1:], 3, args, overdue)


def _stale_limit(
    backup: BackupRef, limit: list[str], at: int, args: list[str], overdue: bool
) -> StaleCmd:
    """The limit words after the backup (`at`: where they start among the command's words)."""
    key = "alerts overdue" if overdue else "alerts stale"
    spelled_from = at - 1 if isinstance(backup, BackupName) and len(args) > 2 else at
    written = args[spelled_from - 2 :]
    if len(written) > 1 and (spelled := spelled_duration(written)) is not None:
        raise _spelled(written, spelled, key, spelled_from)
    if len(limit) > 1:
        raise _error(f"Unexpected `{_shown(' '.join(limit[1:]))}`.", key)
    word = limit[0].casefold()
    if word in ("auto", "off"):
        return StaleCmd(backup_id=backup, off=word == "off", overdue=overdue)
    try:
        seconds = parse_duration(word)
    except DeadlineError as error:
        if (spelled := spelled_duration(limit)) is not None:
            raise _spelled(limit, spelled, key, at) from None
        raise _error(f"`{_shown(limit[0])}`: {error}.", key) from None
    if seconds < (MIN_OVERDUE_LIMIT if overdue else MIN_STALE_LIMIT):
        what = "an overdue" if overdue else "a stale"
        raise _error(
            f"`{_shown(limit[0])}` is too short for {what} limit: use at least `10m`.", key
        )
    return StaleCmd(backup_id=backup, limit_seconds=int(seconds.total_seconds()), overdue=overdue)


def _spelled(typed: list[str], spelled: str, key: str, at: int) -> UsageError:
    """A duration written out (`2 hours`): the fix writes it `2h` from word `at` (counting the
    subcommand) on, or after the last `for` when `at` is 0."""

    def fix(words: list[str]) -> list[str]:
        start = at or (end_word_at(words, 1) or len(words) - 1) + 1
        return [*words[:start], spelled]

    message = f"`{_shown(' '.join(typed))}` is not how a duration is written here."
    return UsageError(message, usage_of(key), fix=fix)


def deadline_words(args: list[str], subcommand: str) -> Deadline:
    """`for <duration>` or `until <time>` (see `bot.slack.grammar.deadlines`)."""
    if args[0].casefold() not in ("for", "until"):
        raise _unexpected(args[0], subcommand, ("for", "until"))
    try:
        return deadline_from(args)
    except DeadlineError as error:
        if args[0].casefold() == "for" and (spelled := spelled_duration(args[1:])) is not None:
            raise _spelled(args[1:], spelled, subcommand, 0) from None
        raise _error(str(error), subcommand) from None


def on_off(word: str, subcommand: str) -> bool:
    value = ON_WORDS.get(word.casefold())
    if value is None:
        raise _unexpected(word, subcommand, tuple(ON_WORDS))
    return value
