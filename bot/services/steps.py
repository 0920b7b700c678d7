"""Workflow Builder step executions: each is taken on once, on any replica, across retries.

Slack sends `function_executed` once per execution, but may send it again (a retry after a slow
acknowledgement, a redelivery), and with several replicas any one may get it. The execution id
is the key: the first to record it acts; every other delivery does nothing. The execution's own
token, which completes it later (`bot.slack.delivery.steps`), is encrypted before it is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.clock import utcnow
from bot.services.models import RunStep
from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import StepExecutionRepository


class StepExecutions:
    def __init__(
        self, db: Database, cipher: TokenCipher, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    async def take(
        self,
        execution_id: str,
        team_id: str,
        callback_id: str,
        token: str,
        workflow_title: str | None = None,
    ) -> RunStep | None:
        """The step to act on, committed before acting; None when it was taken before."""
        now = self._clock()
        async with self._db.session() as session:
            taken = await StepExecutionRepository(session).take(
                execution_id, team_id, callback_id, now
            )
        if not taken:
            return None
        return RunStep(execution_id, self._cipher.encrypt(token), now, workflow_title)
