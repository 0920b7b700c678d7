"""Shared fixtures are plugins so that each area of the suite owns its own module."""

pytest_plugins = [
    "tests.db_fixtures",
    "tests.e2e.fixtures",
    "tests.e2e.bot_fixtures",
    "tests.simulator.fixtures",
    "tests.workers.kit",
]
