"""Claiming due rows under a lease, so two workers (or two replicas) never own the same row.

A claim is two statements in the caller's transaction:

1. pick due rows whose lease is free (NULL or expired) — on PostgreSQL with
   `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows instead of waiting;
   on SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE);
2. set `lease_owner`/`lease_until` on them, re-checking in the UPDATE that the lease is still free.

Lease times come from the database server's clock (`db_now`), never the caller's: replicas'
clocks differ, and a lease written by one replica and judged by another with a clock a few
seconds ahead would look expired while its owner still works on the row. The caller's `now`
only decides which rows are due.

The lease outlives the transaction: the worker commits the claim, calls Skyvia without holding
any lock, and then writes its result fenced by `lease_owner`, so a worker whose lease expired
and was taken over cannot overwrite its successor. A crashed worker's rows come back when the
lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Row, Update, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.repositories._sql import db_now, lockable


class Leased(Protocol):
    lease_owner: Any
    lease_until: Any


LeasedT = TypeVar("LeasedT", bound=Leased)


def new_lease_owner(prefix: str = "") -> str:
    """A claimer id unique to this process and call: host, pid and a random part."""
    name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return f"{prefix}:{name}" if prefix else name


def lease_free(model: type[Leased], session: AsyncSession) -> ColumnElement[bool]:
    """No lease, or one that ended by the database's clock."""
    return or_(model.lease_until.is_(None), model.lease_until < db_now(session))


async def claim_due(
    session: AsyncSession,
    model: type[LeasedT],
    *,
    due: Sequence[ColumnElement[bool]],
    order_by: InstrumentedAttribute[Any],
    owner: str,
    limit: int,
    lease_seconds: float,
) -> list[LeasedT]:
    """Leases up to `limit` due rows of `model` to `owner`, earliest first (see module doc).

    `due` is judged by the caller's clock; the lease by the database's (see module doc).
    """
    claim = await _claim(session, model, due, order_by, owner, limit, lease_seconds)
    if claim is None:
        return []
    claimed = await session.scalars(
        claim.returning(model), execution_options={"populate_existing": True}
    )
    return sorted(claimed.all(), key=lambda row: getattr(row, order_by.key))


async def claim_due_columns(
    session: AsyncSession,
    model: type[Leased],
    columns: Sequence[InstrumentedAttribute[Any]],
    *,
    due: Sequence[ColumnElement[bool]],
    order_by: InstrumentedAttribute[Any],
    owner: str,
    limit: int,
    lease_seconds: float,
) -> list[Row[*tuple[Any, ...]]]:
    """`claim_due`, answering with the claimed rows' `columns` (which hold `order_by`) instead
    of entities: for a repository that hands out plain records (`storage.records`)."""
    claim = await _claim(session, model, due, order_by, owner, limit, lease_seconds)
    if claim is None:
        return []
    claimed = await session.execute(claim.returning(*columns))
    return sorted(claimed.all(), key=lambda row: getattr(row, order_by.key))


async def _claim(
    session: AsyncSession,
    model: type[Leased],
    due: Sequence[ColumnElement[bool]],
    order_by: InstrumentedAttribute[Any],
    owner: str,
    limit: int,
    lease_seconds: float,
) -> Update | None:
    """Picks the due rows whose lease is free (statement 1 of the module doc) and returns the
    UPDATE that leases them (statement 2); None when there are none to claim."""
    if limit <= 0:
        return None
    key = list(model.__table__.primary_key.columns)  # type: ignore[attr-defined]
    free = lease_free(model, session)
    candidates = select(*key).where(*due, free).order_by(order_by).limit(limit)
    picked = (await session.execute(lockable(session, candidates))).all()
    if not picked:
        return None
    return (
        update(model)
        .where(tuple_(*key).in_([tuple(row) for row in picked]), free)
        .values(lease_owner=owner, lease_until=db_now(session, plus_seconds=lease_seconds))
    )


def held_by(model: type[Leased], owner: str) -> ColumnElement[bool]:
    """The fence for writing a claimed row's result: only the current lease owner may."""
    return model.lease_owner == owner  # type: ignore[no-any-return]
