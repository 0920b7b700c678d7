"""The bot's one clock: the current time as an aware UTC datetime.

Storage accepts only aware UTC timestamps (`storage.types.UTCDateTime`), so every "now" the bot
computes comes from here; services and workers take a `clock` argument defaulting to `utcnow`,
which tests replace with a clock they move. Storage itself reads no clock: its callers pass
`now`. (The simulator keeps its own, scalable clock in `bot/simulator/clock.py`.)
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)
