"""The ends people type after `for` and `until`: a timed mute's or a maintenance window's end.

`for` takes a duration (`90s`, `30m`, `2h`, `1d`, `1h30m`); `until` takes a time of day (`18:00`,
the next such moment in the typing person's time zone) or an ISO 8601 date-time. The grammar is
pure and knows no time zone, so a parsed end stays a `Deadline` until the handler, which knows the
person's zone (Slack `users.info` `tz`), resolves it to an aware UTC moment. Anything further than
`MAX_SPAN` away is refused: a "temporary" mute that outlives everyone's memory is a silent outage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from bot.clock import zone_of

MAX_SPAN = timedelta(days=30)
"""The longest mute or window; longer ones are refused rather than forgotten."""

_DURATION = re.compile(r"(?:([0-9]{1,4})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,7})m)?(?:([0-9]{1,9})s)?")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")

DURATION_FORMS = "`90s`, `30m`, `2h`, `1d` or `1h30m`"
TIME_FORMS = "`18:00` (your time zone) or an ISO 8601 date-time like `2026-05-01T18:00Z`"


class DeadlineError(ValueError):
    """A duration or time that does not parse, or an end that is past or too far away."""


def parse_duration(word: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, `1h30m` (units in that order, each once); 0 < result <= 30 days."""
    match = _DURATION.fullmatch(word.casefold())
    if not word or match is None or not any(match.groups()):
        raise DeadlineError(f"use a duration like {DURATION_FORMS}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span <= timedelta(0):
        raise DeadlineError("a duration must be longer than zero")
    if span > MAX_SPAN:
        raise DeadlineError("that is longer than 30 days; use at most `30d`")
    return span


@dataclass(frozen=True)
class Deadline:
    """An end as typed: exactly one of `span` (for), `clock` (until HH:MM), `moment` (until ISO).

    `moment` may be naive (an ISO date-time without an offset): it is then read in the person's
    zone, like `clock`. `word` is the user's own text, for messages that quote it back.
    """

    word: str
    span: timedelta | None = None
    clock: time | None = None
    moment: datetime | None = None

    def resolve(self, now: datetime, tz: str | None) -> datetime:
        """The aware UTC end, counted from `now`; raises DeadlineError when past or too far."""
        zone = zone_of(tz)
        if self.span is not None:
            return now + self.span
        if self.clock is not None:
            local_now = now.astimezone(zone)
            end = datetime.combine(local_now.date(), self.clock, tzinfo=zone)
            if end <= local_now:
                end = datetime.combine(local_now.date() + timedelta(days=1), self.clock, zone)
            return end.astimezone(UTC)
        assert self.moment is not None
        moment = self.moment if self.moment.tzinfo else self.moment.replace(tzinfo=zone)
        try:
            end = moment.astimezone(UTC)
        except OverflowError:  # before year 1 or after year 9999 once in UTC
            far = "already past" if moment.year < now.year else "more than 30 days away"
            raise DeadlineError(f"`{self.word}` is {far}") from None
        if end <= now:
            raise DeadlineError(f"`{self.word}` is already past")
        if end - now > MAX_SPAN:
            raise DeadlineError(f"`{self.word}` is more than 30 days away")
        return end


def parse_clock(word: str) -> time | None:
    """`18:00`, `9:30` (24-hour clock) as a time of day; None when it is not one."""
    clock = _CLOCK.fullmatch(word)
    return time(int(clock.group(1)), int(clock.group(2))) if clock else None


def parse_deadline(keyword: str, word: str) -> Deadline:
    """`for <duration>` or `until <time>`; raises DeadlineError naming the forms that work."""
    if keyword == "for":
        return Deadline(word=word, span=parse_duration(word))
    clock = parse_clock(word)
    if clock is not None:
        return Deadline(word=word, clock=clock)
    try:
        moment = datetime.fromisoformat(word) if "T" in word.upper() else None
    except ValueError:
        moment = None
    if moment is None:
        raise DeadlineError(f"use a time like {TIME_FORMS}")
    return Deadline(word=word, moment=moment)


def deadline_from(words: list[str]) -> Deadline:
    """`for <duration>` or `until <time>` as typed (`words[0]` is `for` or `until`).

    Errors are whole sentences quoting the user's words, for the usage answer.
    """
    keyword = words[0].casefold()
    if len(words) == 1:
        what = "duration" if keyword == "for" else "time"
        raise DeadlineError(f"`{keyword}` needs a {what} after it.")
    if len(words) > 2:
        raise DeadlineError(f"Unexpected `{_quoted(' '.join(words[2:]))}`.")
    try:
        return parse_deadline(keyword, words[1])
    except DeadlineError as error:
        raise DeadlineError(f"`{_quoted(words[1])}` does not work here: {error}.") from None


_SPELLED_PART = re.compile(r"([0-9]{1,7})\s*([a-z]+)")
_UNITS = {
    "d": ("d", "day", "days"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "s": ("s", "sec", "secs", "second", "seconds"),
}
_UNIT_OF = {word: unit for unit, words in _UNITS.items() for word in words}


def spelled_duration(words: list[str]) -> str | None:
    """A duration written out as people say it (`2 hours`, `1 hour 30 mins`, `2hours`) in the
    form the grammar reads (`2h`, `1h30m`); None when it is not one, or still not valid."""
    text = " ".join(words).casefold()
    parts = _SPELLED_PART.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
        return None
    units = [_UNIT_OF.get(unit) for _, unit in parts]
    if None in units or len(set(units)) != len(units):
        return None
    order = "dhms"
    pairs = sorted(
        zip(units, (n for n, _ in parts), strict=True), key=lambda p: order.index(str(p[0]))
    )
    compact = "".join(f"{int(number)}{unit}" for unit, number in pairs)
    try:
        parse_duration(compact)
    except DeadlineError:
        return None
    return compact if compact != text else None


def end_word_at(words: list[str], start: int) -> int | None:
    """Where `for|until <end>` starts in a command's words: the last such word from `start` on.

    The last, because the words before it may be a backup's name, and a name may hold `for`.
    """
    ends = [i for i in range(start, len(words)) if words[i].casefold() in ("for", "until")]
    return ends[-1] if ends else None


def _quoted(text: str, limit: int = 40) -> str:
    """User input as quoted in an error: cut, and without backticks that break the quoting."""
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
