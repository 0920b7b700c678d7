"""Workflow Builder step executions the bot took on: one per execution id, on any replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StepExecution
from storage.repositories._sql import delete_batch, insert_if_absent


class StepExecutionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, execution_id: str, team_id: str, callback_id: str, now: datetime) -> bool:
        """True for the one caller that takes this execution on; False for every repeat (a
        retried event, the same event on another replica, a redelivery after a restart)."""
        return await insert_if_absent(
            self.session,
            StepExecution,
            {
                "execution_id": execution_id,
                "team_id": team_id,
                "callback_id": callback_id,
                "created_at": now,
            },
            ("execution_id",),
        )

    async def prune(self, older_than: datetime, limit: int = 1000) -> int:
        """Forgets up to `limit` executions taken on before `older_than`; how many. Slack
        redelivers an event within minutes; the run itself keeps its step on its watch."""
        return await delete_batch(
            self.session,
            StepExecution,
            [StepExecution.created_at < older_than],
            limit,
            oldest_first=StepExecution.created_at,
        )
