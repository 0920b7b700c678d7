"""A PostgreSQL server of the test's own (`private_postgres`), for tests that stop the database.

Stopping the shared server would break every other test using it, so outage tests make a
throwaway cluster (`bot/devtools/private_postgres.py`). They need no shared database, but a
cluster takes seconds to make, so they run in the PostgreSQL pass of the suite
(`TEST_DATABASE_URL` set, as in `.ci/run`) rather than in both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.devtools.private_postgres import PrivatePostgres, unavailable_reason
from tests.db_fixtures import TEST_DATABASE_URL_ENV


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster, removed after the test (skips outside the PostgreSQL pass)."""
    if not os.environ.get(TEST_DATABASE_URL_ENV, "").startswith("postgres"):
        pytest.skip(f"runs in the PostgreSQL pass ({TEST_DATABASE_URL_ENV} set)")
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = PrivatePostgres.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
