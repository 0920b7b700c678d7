"""Processed button clicks: the same click is acted on once, whatever replica receives it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedClick
from storage.repositories._sql import conflict_insert, delete_batch, insert_if_absent


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

    async def claim(self, key: str, user_id: str, now: datetime, window: timedelta) -> bool:
        """True unless a click with `key` was recorded in the `window` before `now`.

        A double click (the same button of the same message, twice within seconds) must act
        once, yet the same button clicked again later must work. One statement decides, inside
        the database: insert the key, or take over a row older than the window; a row inside
        the window makes the statement change nothing. On PostgreSQL a racing replica waits on
        the row lock and then sees the winner's fresh `created_at`; on SQLite writers are
        serialised by BEGIN IMMEDIATE. Commit before acting, so the other replica can see it.
        """
        table = cast(Table, ProcessedClick.__table__)
        values = conflict_insert(self.session, table).values(
            key=key, user_id=user_id, created_at=now
        )
        statement = values.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "user_id": values.excluded.user_id,
                "created_at": values.excluded.created_at,
            },
            where=table.c.created_at <= now - window,
        ).returning(table.c.id)
        result = await self.session.execute(statement)
        return result.first() is not None

    async def release(self, key: str, claimed_at: datetime) -> bool:
        """Forgets the claim made at `claimed_at`, so a retry after a failed action is not
        mistaken for a double click; a newer claim of the same key is left alone."""
        result = await self.session.execute(
            delete(ProcessedClick)
            .where(ProcessedClick.key == key, ProcessedClick.created_at == claimed_at)
            .returning(ProcessedClick.id)
        )
        return len(result.all()) > 0

    async def prune(self, older_than: datetime, limit: int = 1000) -> int:
        """Forgets up to `limit` clicks and event ids recorded before `older_than`; how many."""
        return await delete_batch(
            self.session,
            ProcessedClick,
            [ProcessedClick.created_at < older_than],
            limit,
            oldest_first=ProcessedClick.created_at,
        )
