"""Turns at a periodic job that one replica at a time runs (retention), on a single leased row.

The row of a job is leased like a due watch (`repositories._leases`): a replica whose claim
succeeds has the turn and, when done, sets `next_run_at` and frees the lease; the others find
the row leased or not yet due and skip the round. A replica that crashes mid-turn loses the
lease when it expires, and the next claimer runs the job again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WorkerLease
from storage.repositories import _leases
from storage.repositories._sql import db_now, insert_if_absent


class WorkerLeaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_turn(self, name: str, owner: str, now: datetime, lease_seconds: float) -> bool:
        """True if `owner` now has the turn at job `name`: due by `now` and not leased.

        The job's row is made on first use, due at once.
        """
        await insert_if_absent(
            self.session, WorkerLease, {"name": name, "next_run_at": now}, ("name",)
        )
        claimed = await _leases.claim_due(
            self.session,
            WorkerLease,
            due=[WorkerLease.name == name, WorkerLease.next_run_at <= now],
            order_by=WorkerLease.next_run_at,
            owner=owner,
            limit=1,
            lease_seconds=lease_seconds,
        )
        return bool(claimed)

    async def extend(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Keeps the turn for `lease_seconds` from now (the database's clock, like every lease);
        False if it is no longer `owner`'s."""
        return await self._write_held(
            name, owner, {"lease_until": db_now(self.session, plus_seconds=lease_seconds)}
        )

    async def end_turn(self, name: str, owner: str, next_run_at: datetime) -> bool:
        """Frees the lease and makes the job due at `next_run_at`; False if not `owner`'s."""
        return await self._write_held(
            name, owner, {"next_run_at": next_run_at, "lease_owner": None, "lease_until": None}
        )

    async def _write_held(self, name: str, owner: str, values: dict[str, object]) -> bool:
        result = await self.session.execute(
            update(WorkerLease)
            .where(WorkerLease.name == name, _leases.held_by(WorkerLease, owner))
            .values(**values)
            .returning(WorkerLease.name)
        )
        return result.first() is not None
