"""Dialect-aware statements the repositories share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Interval,
    Select,
    Table,
    delete,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

from storage.types import UTCDateTime

R = TypeVar("R")


def columns_of(record: type[Any], model: type[Any]) -> tuple[Any, ...]:
    """`model`'s columns named as the dataclass `record`'s fields, in the fields' order: a row
    selected with them builds the record positionally (`read_records`), which costs less than
    an ORM entity per row (the alert scanner reads thousands a round)."""
    return tuple(getattr(model, name) for name in record.__dataclass_fields__)


async def read_records(session: AsyncSession, record: type[R], statement: Select[Any]) -> list[R]:
    """The `record`s of `statement`'s rows, which select `columns_of(record, ...)`."""
    return [record(*row) for row in await session.execute(statement)]


def copy_of(record: type[R], entity: object) -> R:
    """The `record` of an entity a repository holds (one it locked and changed, say)."""
    return record(*(getattr(entity, name) for name in record.__dataclass_fields__))  # type: ignore[attr-defined]


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def conflict_insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of `table` in the session's dialect, which has ON CONFLICT (both of ours do,
    each with its own construct)."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
    table = cast(Table, model.__table__)
    statement = (
        conflict_insert(session, table)
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


_SQLITE_NOW_FORMAT = "%Y-%m-%d %H:%M:%f000"
"""SQLite's clock in the text format the `UTCDateTime` columns are stored in (microseconds,
so that text order stays time order next to values written from Python)."""


def db_now(session: AsyncSession, *, plus_seconds: float = 0.0) -> ColumnElement[datetime]:
    """The database server's current UTC time (plus `plus_seconds`), as a SQL expression.

    Replicas' clocks differ; a time written by one and compared on another (a claim's age, a
    lease's end) must come from the one clock they share. PostgreSQL: `statement_timestamp()`
    (unlike `now()`, it moves on between the statements of one transaction); SQLite:
    `strftime(..., 'now')` in the stored format.
    """
    if dialect_name(session) == "postgresql":
        expression: ColumnElement[Any] = func.statement_timestamp()
        if plus_seconds:
            expression = expression + literal(timedelta(seconds=plus_seconds), Interval())
    else:
        # Constants inlined, not bound: a multi-row INSERT repeats this once per row.
        arguments: list[ColumnElement[Any]] = [
            literal_column(f"'{_SQLITE_NOW_FORMAT}'"),
            literal_column("'now'"),
        ]
        if plus_seconds:
            arguments.append(literal_column(f"'{plus_seconds:+.6f} seconds'"))
        expression = func.strftime(*arguments)
    return type_coerce(expression, UTCDateTime())
