"""The tables slack_sdk's SQLAlchemy OAuth stores read and write.

OAuth mode keeps installations and OAuth states on the bot's own engine, so the tables belong to
our migrations rather than to the stores' `create_tables()`. They are built with slack_sdk's own
`build_*_table` classmethods so their shape is exactly what the stores query.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table

INSTALLATIONS_TABLE = AsyncSQLAlchemyInstallationStore.default_installations_table_name
BOTS_TABLE = AsyncSQLAlchemyInstallationStore.default_bots_table_name
OAUTH_STATES_TABLE = AsyncSQLAlchemyOAuthStateStore.default_table_name


def add_slack_tables(metadata: MetaData) -> list[Table]:
    """Adds the installation, bot and OAuth state tables to `metadata` and returns them."""
    return [
        AsyncSQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS_TABLE),
        AsyncSQLAlchemyInstallationStore.build_bots_table(metadata, BOTS_TABLE),
        AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, OAUTH_STATES_TABLE),
    ]
