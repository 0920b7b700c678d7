"""The simulator's tokens: which exist, and which workspaces each may see.

A token maps to the workspaces it covers, or to None for an account-wide token that sees all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

DEFAULT_TOKEN = "simulator-token"
TokenSpec = Iterable[str] | Mapping[str, Iterable[int] | None]


def default_tokens() -> list[str]:
    """Tokens given, else `SKYVIA_API_TOKEN`, else `simulator-token`.

    As documented in docs/reference/configuration.md#the-skyvia-simulator.
    """
    env = os.environ.get("SKYVIA_API_TOKEN", "").strip()
    return [env] if env else [DEFAULT_TOKEN]


def normalize_tokens(tokens: TokenSpec) -> dict[str, frozenset[int] | None]:
    if isinstance(tokens, Mapping):
        return {
            t: (frozenset(scope) if scope is not None else None) for t, scope in tokens.items() if t
        }
    return {t: None for t in tokens if t}
