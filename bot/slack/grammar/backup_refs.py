"""Backups named in command text: an id (`456`, `#456`) or a name, and the number rules they share.

Shared by the subcommands' parsers (`parsing`) and the `alerts` grammar (`alerts_words`), so a
backup is named, and a number checked, the same way in every command.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.slack.grammar.commands import BackupName, BackupRef
from bot.slack.grammar.usage import shown as _shown
from bot.slack.grammar.usage import usage_error as _error

_DIGITS = re.compile(r"[0-9]+")

MAX_ID = 2_147_483_647
"""Skyvia ids are int32; anything larger can only be a typo."""

_QUOTES = "\"'\u201c\u201d\u2018\u2019"


def backup_ref(args: list[str], subcommand: str) -> BackupRef:
    """An id, or the words as a name (`"Nightly CRM"`, `nightly`) when they hold a letter.

    Words that start like a number (`456 now`, `#4`) or hold no letter (`4.5`, `<456>`) are
    still refused as a bad id, so a typo in an id is not mistaken for a name.
    """
    name = name_of(args)
    return name if name is not None else only_backup_id(args, subcommand)


def name_of(args: list[str]) -> BackupName | None:
    name = " ".join(args).strip(_QUOTES).strip()
    looks_numeric = not name or name[0].isdigit() or name[0] in "#+-"
    if not looks_numeric and any(ch.isalpha() for ch in name):
        return BackupName(text=name)
    return None


def leading_name(
    args: list[str], ends_before: Callable[[str], bool]
) -> tuple[BackupName, int] | None:
    """A name at the start of `args` and how many words it takes; None when they start with
    an id. A quoted name runs to its closing quote; otherwise the name runs up to the first
    word `ends_before` claims for what follows, and a last word of digits is left to follow it
    too (`snapshots nightly crm 2` is page 2)."""
    if not args:
        return None
    if args[0][:1] in _QUOTES:
        closing = [
            i for i, word in enumerate(args) if word[-1:] in _QUOTES and (i or len(word) > 1)
        ]
        count = closing[0] + 1 if closing else len(args)
    else:
        count = next((i for i, word in enumerate(args) if i and ends_before(word)), len(args))
        if count > 1 and _DIGITS.fullmatch(args[count - 1]):
            count -= 1
    name = name_of(args[:count])
    return (name, count) if name is not None else None


def only_backup_id(args: list[str], subcommand: str) -> int:
    backup_id = required_backup_id(args, subcommand)
    at_most(args, 1, subcommand)
    return backup_id


def required_backup_id(args: list[str], subcommand: str) -> int:
    if not args:
        raise _error("A backup id is missing.", subcommand)
    return parse_id(args[0], "backup id", subcommand)


def parse_id(word: str, what: str, subcommand: str) -> int:
    return parse_number(word, what, subcommand, MAX_ID)


def parse_number(word: str, what: str, subcommand: str, maximum: int) -> int:
    digits = word.removeprefix("#")
    # ASCII digits only: int() would also accept '٤٥٦' and '4_5_6'.
    if not _DIGITS.fullmatch(digits):
        raise _error(f"`{_shown(word)}` is not a {what}; use a whole number.", subcommand)
    digits = digits.lstrip("0") or "0"
    # Length first: int() of a 5,000-digit string raises, and it cannot be in range anyway.
    if len(digits) > len(str(maximum)) or not 1 <= int(digits) <= maximum:
        raise _error(
            f"`{_shown(word)}` is out of range; a {what} is between 1 and {maximum}.",
            subcommand,
        )
    return int(digits)


def at_most(args: list[str], count: int, subcommand: str) -> None:
    if len(args) > count:
        raise _error(f"Unexpected `{_shown(' '.join(args[count:]))}`.", subcommand)
