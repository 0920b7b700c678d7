"""The tables slack_sdk's SQLAlchemy OAuth stores read and write.

OAuth mode keeps installations and OAuth states on the bot's own engine, so the tables belong to
our migrations rather than to the stores' `create_tables()`. They are built with slack_sdk's own
`build_*_table` classmethods so their shape is exactly what the stores query, except that the
token columns are `Text`: they hold Fernet ciphertext (storage/installation_store.py), which is
longer than the 200 characters slack_sdk gives a token.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table, Text

INSTALLATIONS_TABLE = AsyncSQLAlchemyInstallationStore.default_installations_table_name
BOTS_TABLE = AsyncSQLAlchemyInstallationStore.default_bots_table_name
OAUTH_STATES_TABLE = AsyncSQLAlchemyOAuthStateStore.default_table_name
TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
"""Columns that hold a token (encrypted); the bots table has the first two."""


def _with_text_tokens(table: Table) -> Table:
    for name in TOKEN_COLUMNS:
        if name in table.c:
            table.c[name].type = Text()
    return table


def installation_tables(metadata: MetaData | None = None) -> list[Table]:
    """The installations and bots tables (token columns as stored: ciphertext text)."""
    metadata = metadata if metadata is not None else MetaData()
    store = AsyncSQLAlchemyInstallationStore
    return [
        _with_text_tokens(store.build_installations_table(metadata, INSTALLATIONS_TABLE)),
        _with_text_tokens(store.build_bots_table(metadata, BOTS_TABLE)),
    ]


def add_slack_tables(metadata: MetaData) -> list[Table]:
    """Adds the installation, bot and OAuth state tables to `metadata` and returns them."""
    return [
        *installation_tables(metadata),
        AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, OAUTH_STATES_TABLE),
    ]
