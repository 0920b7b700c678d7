"""Shared fixtures are plugins so that each area of the suite owns its own module.

Tests that start the bot, a server or a process are marked `e2e` here (by where they live or
by the fixtures they use), so `pytest -m "not e2e"` is the fast loop over everything else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.db_fixtures",
    "tests.e2e.fixtures",
    "tests.e2e.bot_fixtures",
    "tests.e2e.process_kit",
    "tests.e2e.home_kit",
    "tests.faults.outage_kit",
    "tests.console.console_kit",
    "tests.simulator.fixtures",
    "tests.services.kit",
]

E2E_DIR = Path(__file__).parent / "e2e"
SERVER_FIXTURES = frozenset({"fake_slack", "simulator"})
"""Fixtures that serve a stand-in on loopback; every bot stack builds on them."""


OWN_DATABASE_FIXTURES = frozenset({"start_console"})
"""Fixtures whose process keeps its own SQLite file whatever `TEST_DATABASE_URL` says (the
console): on the PostgreSQL run their tests would only repeat the SQLite run's."""


DATABASE_FIXTURES = frozenset(
    {"migrated_database_url", "database_url", "db", "empty_database_url", "replica"}
    | {"private_postgres"}
)
"""Fixtures that hand a test the database `TEST_DATABASE_URL` names (or a PostgreSQL of its
own). A test that uses none of them, directly or through another fixture, touches no database
the URL chooses: on the PostgreSQL run it would only repeat the SQLite run's, so it is left to
that one (CI's time goes to what differs between the two)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    on_postgres = bool(os.environ.get("TEST_DATABASE_URL"))
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        in_e2e = item.path.is_relative_to(E2E_DIR)
        if in_e2e or SERVER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.e2e)
        if not on_postgres:
            continue
        if OWN_DATABASE_FIXTURES & fixtures:
            item.add_marker(pytest.mark.skip(reason="keeps its own SQLite file: run on SQLite"))
        elif not DATABASE_FIXTURES & fixtures:
            item.add_marker(pytest.mark.skip(reason="uses no database: run on SQLite"))
    # The long tests first (xdist's workers then end together instead of one finishing a
    # crash test alone), the skipped ones last.
    items.sort(key=_start_order)


def _start_order(item: pytest.Item) -> int:
    if item.get_closest_marker("skip") is not None:
        return 2
    return 0 if item.get_closest_marker("e2e") is not None else 1
