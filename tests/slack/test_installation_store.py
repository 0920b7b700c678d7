"""Slack installations at rest: our tables are the ones slack_sdk's stores query, no token is
readable in the database, every token is found decrypted, Grid installs are found for their
workspaces, and the tokens stored before encryption are encrypted by the migration and
re-encrypted by key rotation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table, text

from bot.slack.installation_store import EncryptedInstallationStore
from storage.crypto import TokenCipher
from storage.db import Database, upgrade_async
from storage.slack_tables import (
    TOKEN_COLUMNS,
    reencrypt_installation_tokens,
    slack_bots,
    slack_installations,
    slack_oauth_states,
)

CLIENT_ID = "1111.2222"
KEY = Fernet.generate_key().decode()
BOT_TOKEN = "xoxe.xoxb-1-T1-bot-token-in-clear"
REFRESH_TOKEN = "xoxe-1-T1-refresh-token-in-clear"
USER_TOKEN = "xoxp-T1-user-token-in-clear"


def installation(
    team_id: str | None,
    *,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
    bot_token: str = BOT_TOKEN,
    minutes_ago: int = 1,
) -> Installation:
    return Installation(
        app_id="A1",
        enterprise_id=enterprise_id,
        team_id=team_id,
        user_id="U1",
        user_token=USER_TOKEN,
        bot_token=bot_token,
        bot_id="B1",
        bot_user_id="UB1",
        bot_scopes=["chat:write", "commands"],
        bot_refresh_token=REFRESH_TOKEN,
        bot_token_expires_at=int(time.time()) + 3600,
        is_enterprise_install=is_enterprise_install,
        installed_at=(datetime.now(UTC) - timedelta(minutes=minutes_ago)).timestamp(),
    )


async def raw_token_columns(db: Database) -> list[str]:
    """Every token-column value as stored, from both tables."""
    values: list[str] = []
    async with db.engine.connect() as connection:
        for query in (
            "SELECT bot_token, bot_refresh_token, user_token, user_refresh_token "
            "FROM slack_installations",
            "SELECT bot_token, bot_refresh_token FROM slack_bots",
        ):
            for row in await connection.execute(text(query)):
                values.extend(value for value in row if value is not None)
    return values


def store(db: Database, keys: str = KEY) -> EncryptedInstallationStore:
    return EncryptedInstallationStore(
        client_id=CLIENT_ID, engine=db.engine, cipher=TokenCipher(keys)
    )


def shape(table: Table) -> tuple[str, list[tuple[str, str, bool, bool]], set[object]]:
    """What the database holds of a table: columns (type, nullable, primary key) and indexes.
    Token columns count as `TEXT`, the type they are stored with (ciphertext)."""
    columns = [
        (c.name, "TEXT" if c.name in TOKEN_COLUMNS else str(c.type), c.nullable, c.primary_key)
        for c in table.columns
    ]
    indexes = {(i.name, tuple(c.name for c in i.columns)) for i in table.indexes}
    return table.name, columns, indexes


def test_our_tables_are_the_ones_slack_sdks_stores_query() -> None:
    """storage declares the tables without slack_sdk; a slack_sdk that changed them fails here."""
    metadata = MetaData()
    stock = AsyncSQLAlchemyInstallationStore
    theirs = [
        stock.build_installations_table(metadata, stock.default_installations_table_name),
        stock.build_bots_table(metadata, stock.default_bots_table_name),
        AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(
            metadata, AsyncSQLAlchemyOAuthStateStore.default_table_name
        ),
    ]

    ours = [slack_installations, slack_bots, slack_oauth_states]

    assert [shape(table) for table in ours] == [shape(table) for table in theirs]


async def test_tokens_are_ciphertext_in_the_database_and_clear_when_found(db: Database) -> None:
    installations = store(db)
    await installations.async_save(installation("T1"))

    stored = await raw_token_columns(db)
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    found = await installations.async_find_installation(enterprise_id=None, team_id="T1")

    assert len(stored) == 5  # bot token and refresh token twice, the user token once
    assert not any(
        secret in value
        for value in stored
        for secret in (BOT_TOKEN, REFRESH_TOKEN, USER_TOKEN, "xox")
    )
    assert bot is not None and (bot.bot_token, bot.bot_refresh_token) == (BOT_TOKEN, REFRESH_TOKEN)
    assert found is not None and (found.bot_token, found.user_token) == (BOT_TOKEN, USER_TOKEN)


async def test_a_workspace_finds_its_own_install_or_its_grid_orgs(db: Database) -> None:
    installations = store(db)
    await installations.async_save(installation("T1", bot_token="xoxb-plain"))
    await installations.async_save(installation("T2", enterprise_id="E1", bot_token="xoxb-grid-ws"))
    await installations.async_save(
        installation(None, enterprise_id="E2", is_enterprise_install=True, bot_token="xoxb-org")
    )

    plain = await installations.find_bot_for_team("T1", None)
    grid_workspace = await installations.find_bot_for_team("T2", "E1")
    grid_workspace_unknown_org = await installations.find_bot_for_team("T2", None)
    org_wide = await installations.find_bot_for_team("T3", "E2")
    stranger = await installations.find_bot_for_team("T3", None)

    assert plain is not None and plain.bot_token == "xoxb-plain"
    assert grid_workspace is not None and grid_workspace.bot_token == "xoxb-grid-ws"
    assert grid_workspace_unknown_org is not None
    assert grid_workspace_unknown_org.bot_token == "xoxb-grid-ws"
    assert org_wide is not None and org_wide.bot_token == "xoxb-org"
    assert stranger is None


async def test_key_rotation_re_encrypts_every_slack_token(db: Database) -> None:
    await store(db).async_save(installation("T1"))
    new_key = Fernet.generate_key().decode()
    rotating = TokenCipher(f"{new_key},{KEY}")

    async with db.engine.begin() as connection:
        rewritten = await reencrypt_installation_tokens(connection, rotating.rotate)

    assert rewritten.rewritten == 5 and rewritten.unreadable == []
    bot = await store(db, new_key).async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == BOT_TOKEN  # the new key alone reads them


async def test_the_migration_encrypts_tokens_stored_in_clear(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url, "0003")
    db = Database.connect(empty_database_url)
    try:
        stock = AsyncSQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=db.engine)
        await stock.async_save(installation("T2", enterprise_id="E1"))
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO bindings (team_id, channel_id, workspace_id, created_by, "
                    "created_at, alerts_enabled, alerts_since, updated_at) VALUES "
                    "('T2', 'C1', 5, 'U1', :now, true, :now, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
        assert BOT_TOKEN in await raw_token_columns(db)
    finally:
        await db.dispose()  # its statements were prepared for the old schema

    await upgrade_async(empty_database_url, cipher=TokenCipher(KEY))

    db = Database.connect(empty_database_url)
    try:
        assert not any("xox" in value for value in await raw_token_columns(db))
        bot = await store(db).find_bot_for_team("T2", "E1")
        assert bot is not None and bot.bot_token == BOT_TOKEN
        async with db.engine.connect() as connection:
            enterprise = await connection.scalar(text("SELECT enterprise_id FROM bindings"))
        assert enterprise == "E1"  # filled in from the workspace's install
    finally:
        await db.dispose()
