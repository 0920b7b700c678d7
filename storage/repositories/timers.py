"""Timers: ends of timed mutes and maintenance windows, due at a time, fired once.

`set` replaces the pending timer of a kind for a channel's backup; `cancel` drops it. A retry
moves only `due_at`; `ends_at` stays the end it was set with, which keys its note (the id is
no key: SQLite may reuse it). The firing worker
claims due timers under a lease (`repositories._leases`), acts, and `finish`es them, fenced by
the lease, so a claimer whose lease expired and was taken over cannot finish its successor's
timer. A crash between claim and finish leaves the row; it is claimed again when the lease
expires, so the action and its message must be idempotent (the delivery ledger makes the
message so).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Timer
from storage.repositories import _leases


class TimerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set(
        self,
        *,
        kind: str,
        team_id: str,
        channel_id: str,
        backup_id: int,
        due_at: datetime,
        payload: str,
        workspace_id: int | None = None,
        token_ciphertext: str | None = None,
    ) -> Timer:
        """The one pending timer of `kind` for this channel's backup, due at `due_at`, with the
        workspace and (encrypted) token it acts with, if it acts in Skyvia."""
        await self.cancel(kind=kind, team_id=team_id, channel_id=channel_id, backup_id=backup_id)
        timer = Timer(
            kind=kind,
            team_id=team_id,
            channel_id=channel_id,
            backup_id=backup_id,
            workspace_id=workspace_id,
            token_ciphertext=token_ciphertext,
            due_at=due_at,
            ends_at=due_at,
            payload=payload,
        )
        self.session.add(timer)
        await self.session.flush()
        return timer

    async def get(
        self, *, kind: str, team_id: str, channel_id: str, backup_id: int
    ) -> Timer | None:
        return await self.session.scalar(
            select(Timer).where(*self._key(kind, team_id, channel_id, backup_id))
        )

    async def pending_in(self, team_id: str, channel_id: str) -> list[Timer]:
        """The channel's pending timers, soonest first (for `status`)."""
        rows = await self.session.scalars(
            select(Timer)
            .where(Timer.team_id == team_id, Timer.channel_id == channel_id)
            .order_by(Timer.due_at, Timer.id)
        )
        return list(rows)

    async def of_kind_in(self, kind: str, team_id: str, channel_ids: Sequence[str]) -> list[Timer]:
        """The pending timers of `kind` in these channels of a team (one query for a page)."""
        rows = await self.session.scalars(
            select(Timer).where(
                Timer.kind == kind, Timer.team_id == team_id, Timer.channel_id.in_(channel_ids)
            )
        )
        return list(rows)

    async def on_backup(self, kind: str, workspace_id: int, backup_id: int) -> list[Timer]:
        """The pending timers of `kind` on a workspace's backup, in every channel (a backup's
        maintenance windows are one, whichever channels opened them)."""
        rows = await self.session.scalars(
            select(Timer)
            .where(
                Timer.kind == kind,
                Timer.workspace_id == workspace_id,
                Timer.backup_id == backup_id,
            )
            .order_by(Timer.id)
        )
        return list(rows)

    async def drop_in(self, team_id: str, channel_id: str, kinds: Sequence[str]) -> int:
        """Drops the channel's pending timers of `kinds` (its binding went); how many."""
        result = await self.session.execute(
            delete(Timer)
            .where(Timer.team_id == team_id, Timer.channel_id == channel_id, Timer.kind.in_(kinds))
            .returning(Timer.id)
        )
        return len(result.all())

    async def cancel(self, *, kind: str, team_id: str, channel_id: str, backup_id: int) -> bool:
        """Drops the pending timer, if any; True if there was one."""
        result = await self.session.execute(
            delete(Timer)
            .where(*self._key(kind, team_id, channel_id, backup_id))
            .returning(Timer.id)
        )
        return result.first() is not None

    async def claim_due(
        self, owner: str, now: datetime, limit: int, lease_seconds: float
    ) -> list[Timer]:
        return await _leases.claim_due(
            self.session,
            Timer,
            due=[Timer.due_at <= now],
            order_by=Timer.due_at,
            owner=owner,
            limit=limit,
            lease_seconds=lease_seconds,
        )

    async def finish(self, timer_id: int, owner: str) -> bool:
        """Deletes a fired timer; False if `owner` no longer holds it (or it was cancelled)."""
        result = await self.session.execute(
            delete(Timer)
            .where(Timer.id == timer_id, _leases.held_by(Timer, owner))
            .returning(Timer.id)
        )
        return result.first() is not None

    async def note(self, timer_id: int, owner: str, payload: str) -> bool:
        """Records a step of a claimed timer's action (its payload), so a retry does not redo it."""
        result = await self.session.execute(
            update(Timer)
            .where(Timer.id == timer_id, _leases.held_by(Timer, owner))
            .values(payload=payload)
            .returning(Timer.id)
        )
        return result.first() is not None

    async def release(self, timer_id: int, owner: str, retry_at: datetime) -> bool:
        """Gives a claimed timer back, due again at `retry_at` (its action could not finish)."""
        result = await self.session.execute(
            update(Timer)
            .where(Timer.id == timer_id, _leases.held_by(Timer, owner))
            .values(due_at=retry_at, lease_owner=None, lease_until=None)
            .returning(Timer.id)
        )
        return result.first() is not None

    @staticmethod
    def _key(kind: str, team_id: str, channel_id: str, backup_id: int) -> list[ColumnElement[bool]]:
        return [
            Timer.kind == kind,
            Timer.team_id == team_id,
            Timer.channel_id == channel_id,
            Timer.backup_id == backup_id,
        ]
