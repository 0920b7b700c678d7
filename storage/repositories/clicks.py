"""Processed button clicks: the same click is acted on once, whatever replica receives it."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedClick
from storage.repositories._sql import insert_if_absent


def click_key(*parts: str) -> str:
    """A fixed-length key for a click, e.g. `click_key(team, channel, message_ts, action, value)`.

    Hashed so a long button value fits the column and no value is stored in clear.
    """
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(4, "big"))  # length-prefixed: no ambiguous joins
        digest.update(encoded)
    return digest.hexdigest()


class ClickRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_once(self, key: str, user_id: str, now: datetime) -> bool:
        """True the first time `key` is recorded, False for every repeat (double clicks)."""
        return await insert_if_absent(
            self.session,
            ProcessedClick,
            {"key": key, "user_id": user_id, "created_at": now},
            ("key",),
        )

    async def prune(self, older_than: datetime) -> int:
        """Forgets clicks recorded before `older_than`; returns how many."""
        result = await self.session.execute(
            delete(ProcessedClick)
            .where(ProcessedClick.created_at < older_than)
            .returning(ProcessedClick.id)
        )
        return len(result.all())
