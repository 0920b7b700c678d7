"""Finding a backup by (part of) its name, for commands that take a name instead of an id.

Names are compared NFKC-normalised and case-folded on both sides: messages show `*` `_` `~` and
a backtick as their fullwidth forms so they read literally, and a name copied from a message must
still match the backup it came from.
"""

from __future__ import annotations

import difflib
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.errors import DomainError
from bot.skyvia.models import Backup

CLOSEST = 3
"""Names suggested when nothing matches."""
_CLOSE_ENOUGH = 0.5


@dataclass(frozen=True)
class Ambiguous:
    """More than one backup matches `typed`: the user picks one of `candidates`."""

    typed: str
    candidates: list[Backup]


class NoBackupMatches(DomainError):
    """Nothing matches `typed`; `closest` are the names that come nearest (at most `CLOSEST`)."""

    def __init__(self, typed: str, closest: Sequence[str]) -> None:
        super().__init__(typed)
        self.typed = typed
        self.closest = list(closest)


def normalised(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def cache_key(workspace_id: int, token: str) -> tuple[int, str]:
    """The workspace and a hash of its token: a new token lists afresh, and no token is kept."""
    return workspace_id, hashlib.sha256(token.encode()).hexdigest()


def match(backups: Sequence[Backup], typed: str) -> Backup | Ambiguous:
    """An exact name wins over substrings; one substring match wins; otherwise say why."""
    wanted = normalised(typed)
    names = {b.id: normalised(b.name or "") for b in backups}
    exact = [b for b in backups if names[b.id] == wanted]
    if len(exact) == 1:
        return exact[0]
    found = exact or [b for b in backups if wanted in names[b.id]]
    if len(found) == 1:
        return found[0]
    if found:
        return Ambiguous(typed=typed, candidates=found)
    by_name = {names[b.id]: b.display_name for b in backups if b.name}
    closest = difflib.get_close_matches(wanted, list(by_name), n=CLOSEST, cutoff=_CLOSE_ENOUGH)
    raise NoBackupMatches(typed, [by_name[name] for name in closest])
