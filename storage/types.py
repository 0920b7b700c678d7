"""Column types shared by the models.

SQLite has no time-zone-aware timestamp: a naive value read back could be mistaken for local time,
and aware and naive values do not compare. Every timestamp is therefore stored as UTC and always
comes back as an aware UTC datetime, on both dialects, so callers never juggle the two kinds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out; naive input is refused as a bug."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text: dropping the offset keeps one format, so text order is time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        # The DateTime impl has parsed the column already (SQLite's text too): a datetime.
        stored: datetime | None = value
        if stored is None:
            return None
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)
