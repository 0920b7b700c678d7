"""The people and user groups `/skyvia alerts mention` names, read from Slack's escaped text.

Slack sends a mention typed in a command as `<@U…|name>` or `<!subteam^S…|@handle>`; only those
forms carry an id a failure alert can mention. Pure, like the rest of the grammar.
"""

from __future__ import annotations

import re

MAX_MENTIONS = 10
"""People and groups one channel's alerts may mention: enough for an on-call rota."""
_MENTION = re.compile(
    r"<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>|<!subteam\^(S[A-Z0-9]{1,30})(?:\|[^<>]*)?>"
)
_MAX_SHOWN = 40  # a pasted novel is named by its start, not echoed in full


class MentionError(ValueError):
    """No mention, a word that is not one, or too many: a whole sentence for the usage answer."""


def mention_ids(args: list[str]) -> tuple[str, ...]:
    """The user and group ids in `args`, each once, in the order typed.

    A label after `|` may hold spaces, so the mentions are found in the joined text, and
    anything between them that is not a mention is refused by name (a plain `@dana` means
    Slack did not recognise a person there).
    """
    text = " ".join(args)
    if not text:
        raise MentionError("Name the people or user groups to mention, or `off`.")
    ids: list[str] = []
    position = 0
    for match in _MENTION.finditer(text):
        _no_stray(text[position : match.start()])
        found = match.group(1) or match.group(2)
        if found not in ids:
            ids.append(found)
        position = match.end()
    _no_stray(text[position:])
    if len(ids) > MAX_MENTIONS:
        raise MentionError(f"At most {MAX_MENTIONS} people or groups can be mentioned.")
    return tuple(ids)


def _no_stray(between: str) -> None:
    if between.strip():
        raise MentionError(f"`{_shown(between.split()[0])}` is not a Slack user or user group.")


def _shown(word: str) -> str:
    """The user's word as quoted in an error: cut, and without backticks that break quoting."""
    word = word.replace("`", "'")
    return word if len(word) <= _MAX_SHOWN else word[: _MAX_SHOWN - 1] + "…"
