"""The usage line of every `/skyvia` subcommand, with an example.

Its own module so the help listing, the parser's errors and the docs read one table: they can
never disagree about what a command accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial

_MAX_SHOWN_VALUE = 40  # a pasted novel is named by its start, not echoed in full

USAGE: dict[str, str] = {
    "help": "`/skyvia help` lists these commands",
    "connect": "`/skyvia connect <workspaceId>` connects this channel to a Skyvia workspace "
    "(admins), e.g. `/skyvia connect 123`",
    "disconnect": "`/skyvia disconnect` disconnects this channel from its workspace (admins)",
    "status": "`/skyvia status` shows this channel's connection, alerts and watched snapshots",
    "backups": "`/skyvia backups [page|name]` lists the workspace's backups, e.g. "
    "`/skyvia backups 2` or `/skyvia backups crm`",
    "backup": "`/skyvia backup <backupId>` shows a backup's details, e.g. `/skyvia backup 456`",
    "snapshots": "`/skyvia snapshots <backupId> [page] [failed] [since <date>] [until <date>]` "
    "lists "
    "finished snapshots; dates are `2024-05-01`, `today`, `yesterday`, `7d` or `12h`, "
    "e.g. `/skyvia snapshots 456 failed since 7d`",
    "snapshot": "`/skyvia snapshot <backupId>` starts a snapshot now (operators), "
    "e.g. `/skyvia snapshot 456`",
    "schedule": "`/skyvia schedule <backupId> [on|off]` shows or switches a backup's schedule; "
    "`off for <duration>|until <time>` is a maintenance window, "
    "e.g. `/skyvia schedule 456 off for 4h`",
    "alerts": "`/skyvia alerts on|off` or `/skyvia alerts mute <backupId> [for <duration>|until "
    "<time>]` / `unmute <backupId>` controls failure alerts in this channel, "
    "e.g. `/skyvia alerts mute 456 for 2h`; "
    "`/skyvia alerts mention <@user|@group>...|off` mentions people in them (admins); "
    "`/skyvia alerts stale <backupId> <duration>|auto|off` sets how old the last good snapshot "
    "may get (durations `90s`, `30m`, `2h`, `1d`, `1h30m`, 30 days at most), "
    "e.g. `/skyvia alerts stale 456 26h`; "
    "`/skyvia alerts overdue <backupId> <duration>|auto|off` sets when a run counts as "
    "unusually long, e.g. `/skyvia alerts overdue 456 2h`",
    "health": "`/skyvia health [page]` shows every backup's health, worst first: last good "
    "snapshot, last runs, failing streak (to you, with a button to share it)",
    "digest": "`/skyvia digest daily <HH:MM>|off` posts the health summary here once a day at "
    "that time in your time zone (admins), e.g. `/skyvia digest daily 09:00`; "
    "`/skyvia digest` shows what is set",
    "subscribe": "`/skyvia subscribe <backupId>|all` sends you this channel's failures and "
    "recoveries of that backup (or of all) by DM, e.g. `/skyvia subscribe 456`",
    "unsubscribe": "`/skyvia unsubscribe <backupId>|all` stops those DMs, "
    "e.g. `/skyvia unsubscribe all`",
    "subscriptions": "`/skyvia subscriptions` lists what you get by DM from this channel",
}
"""Subcommand -> usage line with an example (mrkdwn with raw `<`/`>`: escape when rendering)."""

PART_USAGE: dict[str, str] = {
    "alerts": "`/skyvia alerts on|off`, `alerts mute|unmute <backupId>`, "
    "`alerts stale|overdue <backupId> <limit>` or `alerts mention <@user>...|off`; "
    "`/skyvia help` explains each",
    "alerts on": "`/skyvia alerts on|off` turns failure alerts in this channel on or off (admins)",
    "alerts mute": "`/skyvia alerts mute <backupId> [for <duration>|until <time>]` mutes a "
    "backup's failure alerts here (operators); durations `90s`, `30m`, `2h`, `1d`, `1h30m`, "
    "e.g. `/skyvia alerts mute 456 for 2h`",
    "alerts unmute": "`/skyvia alerts unmute <backupId>` turns a muted backup's failure alerts "
    "back on (operators), e.g. `/skyvia alerts unmute 456`",
    "alerts stale": "`/skyvia alerts stale <backupId> <duration>|auto|off` sets how old the "
    "last good snapshot may get (durations `90s`, `30m`, `2h`, `1d`, `1h30m`, 30 days at "
    "most), e.g. `/skyvia alerts stale 456 26h`",
    "alerts overdue": "`/skyvia alerts overdue <backupId> <duration>|auto|off` sets when a "
    "run counts as unusually long (`auto`: 3 × its usual duration, 15m at least), "
    "e.g. `/skyvia alerts overdue 456 2h`",
    "alerts mention": "`/skyvia alerts mention <@user|@group>...|off` mentions people in this "
    "channel's failure alerts (admins), e.g. `/skyvia alerts mention @dana`",
}
"""The usage of one part of a subcommand whose whole usage is a wall (`alerts`): an error names
only the part that was typed (docs/reference/commands.md#input-rules). `alerts` alone is the
short overview, for a mistake in the word after it."""


Fix = Callable[[list[str]], list[str]]
"""Rewrites a command's words (subcommand first) into what the user probably meant."""


class UsageError(Exception):
    """Input that does not parse: what was wrong, the right usage, and maybe a likely fix.

    `suggestion` is a whole command (without `/skyvia`) in the user's own words. When it parses,
    `usage` is empty: the corrected command is the one short hint. An empty `usage` without a
    suggestion means the message itself says where to look.
    """

    def __init__(
        self, message: str, usage: str, suggestion: str | None = None, *, fix: Fix | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.suggestion = suggestion
        self.fix = fix


def unexpected(word: str, subcommand: str, choices: tuple[str, ...]) -> UsageError:
    """`word` is not one of `choices`; the closest one, if any, becomes the fix."""
    near = difflib.get_close_matches(word.casefold(), choices, n=1)
    error = usage_error(f"Unexpected `{shown(word)}`.", subcommand)
    if near:
        error.fix = partial(_replace_word, word, near[0])
    return error


def _replace_word(wrong: str, right: str, words: list[str]) -> list[str]:
    """`words` with the first `wrong` after the subcommand replaced by `right`."""
    fixed = list(words)
    if wrong in fixed[1:]:
        fixed[fixed.index(wrong, 1)] = right
    return fixed


def usage_of(key: str) -> str:
    """The usage an error shows for `key`: a part's own line (`alerts mute`) when it has one,
    else the subcommand's."""
    return PART_USAGE.get(key) or USAGE[key]


def usage_error(message: str, subcommand: str) -> UsageError:
    return UsageError(message, usage_of(subcommand))


def shown(word: str) -> str:
    """The user's input as quoted in an error: cut, and without backticks that break quoting."""
    word = word.replace("`", "'")
    if len(word) <= _MAX_SHOWN_VALUE:
        return word
    return word[: _MAX_SHOWN_VALUE - 1] + "…"
