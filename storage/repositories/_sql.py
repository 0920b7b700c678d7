"""Dialect-aware statements the repositories share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def insert_if_absent(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: dict[str, Any],
    conflict_columns: Sequence[str],
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True if this call inserted the row.

    The unique constraint decides, inside the database, so two replicas racing for the same key
    get exactly one True and no IntegrityError (which would also poison the caller's transaction).
    """
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(*table.primary_key.columns)
    )
    result = await session.execute(statement)
    return result.first() is not None


def lockable(session: AsyncSession, statement: Select[Any]) -> Select[Any]:
    """Adds FOR UPDATE SKIP LOCKED where the database has it (SQLite relies on BEGIN IMMEDIATE)."""
    if dialect_name(session) == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement


async def delete_batch(
    session: AsyncSession,
    model: type[DeclarativeBase],
    where: Sequence[ColumnElement[bool]],
    limit: int,
    *,
    oldest_first: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> int:
    """Deletes at most `limit` rows of `model` matching `where`, oldest first; how many.

    A bounded batch keeps each transaction short, so pruning a large backlog never holds locks
    the hot paths wait for. The ids are picked first and deleted by primary key: PostgreSQL
    plans `DELETE ... WHERE id IN (SELECT ... LIMIT n)` as a join that may read the whole
    table. Picking in `oldest_first` order (the age column, which has an index) makes both
    databases walk that index from its old end. Core, not ORM: no session bookkeeping of
    rows nobody loaded.
    """
    table = cast(Table, model.__table__)
    [key] = table.primary_key.columns
    picked = select(key).where(*where).order_by(oldest_first).limit(limit)
    ids = list((await session.scalars(picked)).all())
    if not ids:
        return 0
    result = await session.execute(delete(table).where(key.in_(ids)))
    return cast(CursorResult[Any], result).rowcount
