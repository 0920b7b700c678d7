"""The bot's one clock: the current time as an aware UTC datetime.

Storage accepts only aware UTC timestamps (`storage.types.UTCDateTime`), so every "now" the bot
computes comes from here; services and workers take a `clock` argument defaulting to `utcnow`,
which tests replace with a clock they move. Storage itself reads no clock: its callers pass
`now`. (The simulator keeps its own, scalable clock in `bot/simulator/clock.py`.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def zone_of(tz: str | None) -> ZoneInfo:
    """A person's zone (Slack `users.info` `tz`), or UTC when Slack gave none or one this
    machine does not know: a wrong hour is better than no answer."""
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
