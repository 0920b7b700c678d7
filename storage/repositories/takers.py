"""Who took an alert ("I'm on it"): one `AlertTaker` row per take, released on undo."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertTaker


@dataclass(frozen=True)
class AlertRef:
    """One alert message of a channel, and what it is about."""

    team_id: str
    channel_id: str
    alert_ts: str
    backup_id: int
    snapshot_id: int


@dataclass(frozen=True)
class Takes:
    """How an alert stands for one person: the people on it now (in the order they took it),
    and how many times this person clicked on it before (takes and undos)."""

    takers: tuple[str, ...]
    clicks: int


class TakerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def takes(self, alert: AlertRef, user_id: str) -> Takes:
        rows = await self.session.execute(
            select(AlertTaker.user_id, AlertTaker.released_at)
            .where(*_of(alert))
            .order_by(AlertTaker.id)
        )
        takers: list[str] = []
        clicks = 0
        for who, released in rows.all():
            if who == user_id:
                clicks += 1 if released is None else 2
            if released is None and who not in takers:
                takers.append(who)
        return Takes(tuple(takers), clicks)

    async def take(self, alert: AlertRef, user_id: str, now: datetime) -> None:
        self.session.add(
            AlertTaker(
                team_id=alert.team_id,
                channel_id=alert.channel_id,
                alert_ts=alert.alert_ts,
                backup_id=alert.backup_id,
                snapshot_id=alert.snapshot_id,
                user_id=user_id,
                taken_at=now,
            )
        )
        await self.session.flush()

    async def release(self, alert: AlertRef, user_id: str, now: datetime) -> None:
        await self.session.execute(
            update(AlertTaker)
            .where(*_of(alert), AlertTaker.user_id == user_id, AlertTaker.released_at.is_(None))
            .values(released_at=now)
        )

    async def takers_of(
        self, team_id: str, channel_id: str, snapshots: Collection[tuple[int, int]]
    ) -> dict[int, tuple[str, ...]]:
        """backup -> who is on the alert of (backup, snapshot), for each pair given (a
        channel's open episodes: a take on an earlier episode's alert does not count)."""
        if not snapshots:
            return {}
        wanted = set(snapshots)
        rows = await self.session.execute(
            select(AlertTaker.backup_id, AlertTaker.snapshot_id, AlertTaker.user_id)
            .where(
                AlertTaker.team_id == team_id,
                AlertTaker.channel_id == channel_id,
                AlertTaker.backup_id.in_([b for b, _ in wanted]),
                AlertTaker.released_at.is_(None),
            )
            .order_by(AlertTaker.id)
        )
        found: dict[int, list[str]] = {}
        for backup_id, snapshot_id, user_id in rows.all():
            people = found.setdefault(backup_id, [])
            if (backup_id, snapshot_id) in wanted and user_id not in people:
                people.append(user_id)
        return {backup: tuple(people) for backup, people in found.items() if people}

    async def on_alert(self, team_id: str, channel_id: str, alert_ts: str) -> tuple[str, ...]:
        """Who is on one alert now, in the order they took it."""
        rows = await self.session.scalars(
            select(AlertTaker.user_id)
            .where(
                AlertTaker.team_id == team_id,
                AlertTaker.channel_id == channel_id,
                AlertTaker.alert_ts == alert_ts,
                AlertTaker.released_at.is_(None),
            )
            .order_by(AlertTaker.id)
        )
        return tuple(dict.fromkeys(rows.all()))


def _of(alert: AlertRef) -> tuple[ColumnElement[bool], ...]:
    return (
        AlertTaker.team_id == alert.team_id,
        AlertTaker.channel_id == alert.channel_id,
        AlertTaker.alert_ts == alert.alert_ts,
    )
