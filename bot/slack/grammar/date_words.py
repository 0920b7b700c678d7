"""The dates people type after `since` and `until`, and how to say them back in words.

Split from the command grammar because both directions matter: `2024-05-01`, `today` or `7d`
become aware UTC datetimes, and an error about them quotes the user's own word next to what it
meant ("`until 7d` (24 Nov 2026, 16:12 UTC)"), never raw ISO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.clock import utcnow

_RELATIVE = re.compile(r"(\d{1,6})([dh])")


@dataclass(frozen=True)
class Clock:
    """What `today` and `7d` count from: the given moment, or the current UTC time."""

    given: datetime | None

    def now(self) -> datetime:
        if self.given is None:
            return utcnow()
        return as_utc(self.given)


def parse_when(word: str, key: str, clock: Clock) -> datetime:
    """A bound from `2024-05-01`, an ISO datetime, `today`, `yesterday`, `7d` or `12h`.

    `key` is `since` or `until`: a whole day starts at its midnight as `since` and ends at the
    next one as `until` (exclusive), so `until 2024-05-01` includes May 1. Raises ValueError.
    """
    lowered = word.casefold()
    try:
        if lowered in ("today", "yesterday"):
            day = clock.now().date() - timedelta(days=1 if lowered == "yesterday" else 0)
            return day_bound(day, key)
        relative = _RELATIVE.fullmatch(lowered)
        if relative:
            amount, unit = int(relative.group(1)), relative.group(2)
            delta = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
            return clock.now() - delta
        if is_day(word):  # exactly YYYY-MM-DD: a whole day, not midnight
            return day_bound(date.fromisoformat(word), key)
        return as_utc(datetime.fromisoformat(word))
    except OverflowError as error:  # `999999d` reaches before year 1
        raise ValueError(str(error)) from None


def is_day(word: str) -> bool:
    """`2024-05-01` exactly: a whole day rather than a moment."""
    if len(word) != 10:
        return False
    try:
        date.fromisoformat(word)
    except ValueError:
        return False
    return True


def day_bound(day: date, key: str) -> datetime:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) if key == "until" else start


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Bound:
    """A `since`/`until` bound: the user's word for it, where it stood, and what it means."""

    key: str
    word: str
    index: int
    """Position among the subcommand's arguments (the backup id is 0)."""
    value: datetime

    @property
    def whole_day(self) -> bool:
        return self.word.casefold() in ("today", "yesterday") or is_day(self.word)

    def in_words(self, precise: bool) -> str:
        """`the start of 2 May 2024, UTC`, `the end of …` for whole days, else the moment.

        `precise` adds seconds, for two moments that would otherwise read the same.
        """
        if self.whole_day:
            day = self.value.date() - timedelta(days=1 if self.key == "until" else 0)
            edge = "end" if self.key == "until" else "start"
            return f"the {edge} of {day.day} {day:%b %Y}, UTC"
        moment = self.value
        clock_time = f"{moment:%H:%M:%S}" if precise else f"{moment:%H:%M}"
        return f"{moment.day} {moment:%b %Y}, {clock_time} UTC"
