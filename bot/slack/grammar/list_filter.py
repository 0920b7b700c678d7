"""The name filter of `/skyvia backups <text>`: what is kept of the typed text.

Kept apart from `parsing` (the grammar) because the filter also travels in button and menu
values (`payloads`), whose size Slack caps: an overflow option's value is at most 150 characters.
"""

from __future__ import annotations

MAX_FILTER_LENGTH = 40
"""Characters of a filter kept; enough for any name fragment, and it fits an option value."""


def clean_filter(text: str) -> str:
    """The typed words without control characters, cut to `MAX_FILTER_LENGTH`."""
    printable = "".join(ch for ch in text if ch.isprintable())
    return " ".join(printable.split())[:MAX_FILTER_LENGTH].strip()
