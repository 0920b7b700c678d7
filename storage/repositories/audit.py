"""The audit log of changes made through the bot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry
from storage.repositories._sql import delete_batch


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        team_id: str,
        channel_id: str | None,
        user_id: str,
        action: str,
        target: str | None,
        result: str,
        detail: str | None = None,
        *,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Records one change; without `at` the database's clock stamps it (storage reads none)."""
        entry = AuditEntry(
            at=at if at is not None else func.now(),
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            action=action,
            target=target,
            result=result,
            detail=detail,
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def recent(
        self, team_id: str, channel_id: str | None = None, limit: int = 50
    ) -> Sequence[AuditEntry]:
        """Newest first."""
        statement = select(AuditEntry).where(AuditEntry.team_id == team_id)
        if channel_id is not None:
            statement = statement.where(AuditEntry.channel_id == channel_id)
        result = await self.session.scalars(
            statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        )
        return result.all()

    async def prune(self, older_than: datetime, limit: int = 1000) -> int:
        """Deletes up to `limit` entries made before `older_than`; returns how many."""
        return await delete_batch(
            self.session,
            AuditEntry,
            [AuditEntry.at < older_than],
            limit,
            oldest_first=AuditEntry.at,
        )
