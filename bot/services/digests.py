"""The daily health digest: a channel's `health` summary, once a day at a local time.

A digest is a timer (`TimerKind.DIGEST`, one per channel, `backup_id` 0) whose payload holds the
local time and the IANA zone of the admin who set it. Its `due_at` is always a UTC moment
computed from that local time *for that day*, so "09:00 in Europe/Berlin" stays 09:00 on both
sides of a DST change (08:00 UTC in winter, 07:00 UTC in summer). Firing posts the digest of
the latest local day whose time has passed, keyed in the delivery ledger by that day's moment,
then moves the row to the next day: a digest due while no bot ran is posted once when one is
back, and two replicas (the lease, then the ledger) never post a day twice.

A local day is a day *of the zone*: Tokyo's 6 January ends before Los Angeles's begins. So the
key is the UTC moment, not the bare date (a digest set again from a zone behind found "6
January" taken and skipped its own), and the payload remembers the last day's moment (`last`),
kept across a re-set: a day on which the channel already had a digest, read in the new zone,
gets no second one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from bot.clock import utcnow, zone_of
from bot.services.bindings import BoundWorkspace
from storage.db import Database
from storage.models import Timer, TimerKind
from storage.repositories import TimerRepository

__all__ = ["DigestSetting", "DigestSettings", "digest_day", "next_digest_at"]

DIGEST_SUBJECT = 0
"""The `backup_id` of a digest timer: one digest per channel, about every backup."""


def _local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`, as UTC. A time skipped by a DST change (02:30 on a spring-forward
    night) is read with the offset before the change, so it lands just after the jump (03:30);
    a time that happens twice (autumn) is its first occurrence."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_digest_at(after: datetime, at: time, tz: str) -> datetime:
    """The first moment strictly after `after` when the local clock in `tz` shows `at`: today's,
    or else tomorrow's (which is always later: `after` is before the next local midnight)."""
    zone = zone_of(tz)
    day = after.astimezone(zone).date()
    today = _local_moment(day, at, zone)
    return today if today > after else _local_moment(day + timedelta(days=1), at, zone)


def digest_day(now: datetime, at: time, tz: str) -> tuple[date, datetime]:
    """The latest local day whose digest time is at or before `now`, and that moment (UTC):
    today, or else yesterday.

    The day keys the delivery, so however late a digest is posted, and however often a retry
    comes back to it, one day is posted once.
    """
    zone = zone_of(tz)
    day = now.astimezone(zone).date()
    moment = _local_moment(day, at, zone)
    if moment > now:
        day -= timedelta(days=1)
        moment = _local_moment(day, at, zone)
    return day, moment


@dataclass(frozen=True)
class DigestSetting:
    """A channel's digest: daily at `at` in `tz`, set by `set_by`; next due `next_at` (UTC)."""

    at: time
    tz: str
    set_by: str
    next_at: datetime
    last_at: datetime | None = None
    """The moment of the last day the channel had its digest (kept when set again), if any."""

    @classmethod
    def of(cls, timer: Timer) -> DigestSetting:
        payload = json.loads(timer.payload or "{}")
        last = payload.get("last")
        return cls(
            at=time.fromisoformat(payload.get("at", "09:00")),
            tz=payload.get("tz") or "UTC",
            set_by=payload.get("by", ""),
            next_at=timer.due_at,
            last_at=datetime.fromisoformat(last) if last else None,
        )

    def had(self, day: date) -> bool:
        """True when the channel already had a digest on this local day of the setting's zone."""
        return self.last_at is not None and self.last_at.astimezone(zone_of(self.tz)).date() == day

    def payload(self, last_at: datetime | None) -> str:
        """The timer's payload: the setting, and the moment of the last day it was posted."""
        body = {"at": self.at.strftime("%H:%M"), "tz": self.tz, "by": self.set_by}
        if last_at is not None:
            body["last"] = last_at.astimezone(UTC).isoformat()
        return json.dumps(body)

    @property
    def words(self) -> str:
        """`09:00 (Europe/Berlin)`: the time as the person who set it reads it."""
        return f"{self.at.strftime('%H:%M')} ({self.tz})"


class DigestSettings:
    """`digest daily HH:MM|off`: the request side (the timer worker posts them)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def current(self, team_id: str, channel_id: str) -> DigestSetting | None:
        async with self._db.session() as session:
            timer = await TimerRepository(session).get(**_key(team_id, channel_id))
        return DigestSetting.of(timer) if timer is not None else None

    async def in_channels(
        self, team_id: str, channel_ids: Sequence[str]
    ) -> dict[str, DigestSetting]:
        """The digests of these channels of a team, by channel id (App Home's settings)."""
        if not channel_ids:
            return {}
        async with self._db.session() as session:
            rows = await TimerRepository(session).of_kind_in(TimerKind.DIGEST, team_id, channel_ids)
        return {row.channel_id: DigestSetting.of(row) for row in rows}

    async def set(
        self, bound: BoundWorkspace, *, at: time, tz: str | None, user_id: str
    ) -> tuple[DigestSetting, bool]:
        """Sets the channel's daily digest; False when it was set to this very time already.

        The zone is the setter's (`users.info` `tz`), kept with the digest: the channel keeps
        getting it at the same local time for them, whoever reads it.
        """
        zone = zone_of(tz).key
        old = await self.current(bound.team_id, bound.channel_id)
        if old is not None and (old.at, old.tz) == (at, zone):
            return old, False
        next_at = next_digest_at(self._clock(), at, zone)
        last_at = old.last_at if old is not None else None
        setting = DigestSetting(at=at, tz=zone, set_by=user_id, next_at=next_at, last_at=last_at)
        async with self._db.session() as session:
            await TimerRepository(session).set(
                **_key(bound.team_id, bound.channel_id),
                due_at=next_at,
                payload=setting.payload(last_at),
            )
        return setting, True

    async def off(self, team_id: str, channel_id: str) -> DigestSetting | None:
        """Stops the channel's digest; the setting that was dropped, or None if there was none."""
        async with self._db.session() as session:
            timers = TimerRepository(session)
            timer = await timers.get(**_key(team_id, channel_id))
            if timer is None:
                return None
            setting = DigestSetting.of(timer)
            await timers.cancel(**_key(team_id, channel_id))
        return setting


class _Key(TypedDict):
    kind: str
    team_id: str
    channel_id: str
    backup_id: int


def _key(team_id: str, channel_id: str) -> _Key:
    return _Key(
        kind=TimerKind.DIGEST, team_id=team_id, channel_id=channel_id, backup_id=DIGEST_SUBJECT
    )
