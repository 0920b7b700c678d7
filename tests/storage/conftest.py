from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from storage.db import Database

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def replica(db: Database, migrated_database_url: str) -> AsyncIterator[Database]:
    """A second `Database` on the same data, with its own engine: another replica or process."""
    other = Database.connect(migrated_database_url)
    try:
        yield other
    finally:
        await other.dispose()
