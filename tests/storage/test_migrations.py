from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import Connection, inspect

from storage.db import Database, alembic_config, create_engine, upgrade, upgrade_async
from storage.models import Base
from tests.handlers.test_layering import forbidden_imports

MIGRATIONS = Path(__file__).resolve().parents[2] / "storage" / "migrations"

EXPECTED_TABLES = {
    "alembic_version",
    "bindings",
    "mutes",
    "unmutes",
    "watches",
    "alert_cursors",
    "alert_episodes",
    "past_episodes",
    "backup_staleness",
    "deliveries",
    "processed_clicks",
    "audit_log",
    "worker_leases",
    "timers",
    "step_executions",
    "subscriptions",
    "alert_takers",
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
}


async def _run(url: str, fn):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_upgrade_creates_every_table_on_an_empty_database(empty_database_url: str) -> None:
    assert await _run(empty_database_url, _tables) == set()

    await upgrade_async(empty_database_url)

    assert await _run(empty_database_url, _tables) == EXPECTED_TABLES
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert await _run(empty_database_url, _revision) == head


async def test_models_match_the_migrated_schema(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)

    assert await _run(empty_database_url, _diff) == []


async def test_upgrade_twice_and_concurrently_is_harmless(empty_database_url: str) -> None:
    # Replicas starting together all run `upgrade`; exactly one may create the tables.
    await asyncio.gather(upgrade_async(empty_database_url), upgrade_async(empty_database_url))
    await upgrade_async(empty_database_url)

    assert await _run(empty_database_url, _tables) == EXPECTED_TABLES


async def test_downgrade_to_base_removes_everything_but_the_version_table(
    empty_database_url: str,
) -> None:
    from alembic import command

    await upgrade_async(empty_database_url)
    engine = create_engine(empty_database_url, sqlite_foreign_keys=False)
    try:
        async with engine.begin() as connection:

            def downgrade(sync_connection: Connection) -> None:
                config = alembic_config(empty_database_url)
                config.attributes["connection"] = sync_connection
                command.downgrade(config, "base")

            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()

    assert await _run(empty_database_url, _tables) == {"alembic_version"}


async def test_sync_upgrade_refuses_to_run_inside_an_event_loop(empty_database_url: str) -> None:
    with pytest.raises(RuntimeError, match="upgrade_async"):
        upgrade(empty_database_url)

    await asyncio.to_thread(upgrade, empty_database_url)  # no loop in that thread: it works

    assert "bindings" in await _run(empty_database_url, _tables)


async def test_slack_oauth_stores_work_on_the_migrated_tables(db: Database) -> None:
    installations = AsyncSQLAlchemyInstallationStore(client_id="C1", engine=db.engine)
    states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=60, engine=db.engine)
    installed_at = datetime.now(UTC) - timedelta(minutes=1)
    await installations.async_save(
        Installation(
            app_id="A1",
            enterprise_id=None,
            team_id="T1",
            user_id="U1",
            bot_token="xoxb-not-a-real-token",
            bot_id="B1",
            bot_user_id="UB1",
            bot_scopes=["chat:write", "commands"],
            installed_at=installed_at.timestamp(),
        )
    )

    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    state = await states.async_issue()

    assert bot is not None and bot.bot_token == "xoxb-not-a-real-token"
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False


@pytest.mark.parametrize("path", sorted(MIGRATIONS.rglob("*.py")), ids=lambda p: p.name)
def test_no_migration_imports_a_slack_library_or_the_bot(path: Path) -> None:
    """import-linter does not see the migrations (not a package), so this says it for them: a
    revision already applied must create the same tables whichever slack_sdk is installed."""
    bad = forbidden_imports(path, ("slack_sdk", "slack_bolt", "bot", "handlers"))
    assert not bad, f"{path.relative_to(MIGRATIONS.parent)} imports {sorted(bad)}"
