"""`digest daily <HH:MM>|off`, or `digest` alone: the grammar of the daily digest's setting.

Only `daily` exists; `digest 09:00` is answered with the corrected command rather than guessed,
so the word stays free for a weekly digest later.
"""

from __future__ import annotations

from bot.slack.grammar.backup_refs import at_most
from bot.slack.grammar.commands import Command, DigestCmd
from bot.slack.grammar.date_words import Clock
from bot.slack.grammar.deadlines import parse_clock
from bot.slack.grammar.usage import USAGE, UsageError, shown, unexpected, usage_error


def digest_command(args: list[str], clock: Clock) -> Command:
    if not args:
        return DigestCmd()
    word = args[0].casefold()
    if word == "off":
        at_most(args, 1, "digest")
        return DigestCmd(off=True)
    if parse_clock(args[0]) is not None:  # `digest 09:00`: the one kind there is

        def fix(words: list[str]) -> list[str]:
            return [words[0], "daily", *words[1:]]

        raise UsageError("Say how often: `daily`.", USAGE["digest"], fix=fix)
    if word != "daily":
        raise unexpected(args[0], "digest", ("daily", "off"))
    if len(args) == 1:
        raise usage_error("`daily` needs a time after it, like `09:00` (your time zone).", "digest")
    at_most(args, 2, "digest")
    at = parse_clock(args[1])
    if at is None:
        message = f"`{shown(args[1])}` is not a time of day; use `HH:MM`, like `09:00`."
        raise usage_error(message, "digest")
    return DigestCmd(at=at)
