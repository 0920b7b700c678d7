"""The audit log of "who did what", written the same way by every use case.

`record` writes one entry in its own transaction (an attempt that failed or changed nothing);
`record_in` adds it to the caller's transaction, so a change and its entry commit together.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.repositories import AuditRepository


@dataclass(frozen=True)
class Actor:
    """Who acted, and from which channel: the envelope of the Slack request."""

    team_id: str
    channel_id: str
    user_id: str


@dataclass(frozen=True)
class Entry:
    """What was done to what: `result` is "ok", "unchanged", "failed", ...; never a token."""

    action: str
    target: str
    result: str
    detail: str | None = None


async def record_in(session: AsyncSession, actor: Actor, entry: Entry) -> None:
    await AuditRepository(session).add(
        team_id=actor.team_id,
        channel_id=actor.channel_id,
        user_id=actor.user_id,
        action=entry.action,
        target=entry.target,
        result=entry.result,
        detail=entry.detail,
    )


async def record(db: Database, actor: Actor, entry: Entry) -> None:
    async with db.session() as session:
        await record_in(session, actor, entry)
