"""The tables Slack's OAuth flow keeps in our database, and how the tokens in them are kept.

OAuth mode keeps installations and OAuth states on the bot's own engine, so the tables belong to
our migrations rather than to slack_sdk's `create_tables()`. slack_sdk's stores query them through
table objects of their own (`bot.slack.installation_store`); the ones here are the schema our
migrations create, declared in plain SQLAlchemy so storage needs no Slack library. They are, column
for column, what slack_sdk's `build_*_table` declare, except that the token columns are `Text`:
they hold Fernet ciphertext, longer than the 200 characters slack_sdk gives a token.
`tests/slack/test_installation_store.py` holds the two side by side, so a slack_sdk upgrade that
changes its tables fails a test rather than a query.

Installations hold bot tokens (and user and refresh tokens when Slack issues them); with the
history scopes a bot token reads every channel the bot is in. They are encrypted with the same
Fernet keys as Skyvia tokens: `encrypt_token_columns` gives the token columns of a table a type
that encrypts on the way in and decrypts on the way out, so slack_sdk's own queries run unchanged
and never see ciphertext, while the database never sees a token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from storage.columns import Base
from storage.crypto import Reencryption, TokenCipher, TokenDecryptError

TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
"""Columns that hold a token (encrypted); the bots table has the first two."""


slack_installations = Table(
    "slack_installations",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", Text),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", Text),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

slack_bots = Table(
    "slack_bots",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class EncryptedToken(TypeDecorator[str]):
    """A token column: Fernet ciphertext in the database, the token in Python."""

    impl = Text
    cache_ok = True

    def __init__(self, cipher: TokenCipher) -> None:
        super().__init__()
        self.cipher = cipher

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.cipher.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.cipher.decrypt(value)


def encrypt_token_columns(table: Table, cipher: TokenCipher) -> Table:
    """Makes `table`'s token columns (any it has) encrypt what is written and decrypt what is read.

    Meant for the table objects of a store that queries these tables itself (slack_sdk's): the
    columns of this module stay as stored, ciphertext, for `reencrypt_installation_tokens`."""
    for name in TOKEN_COLUMNS:
        if name in table.c:
            table.c[name].type = EncryptedToken(cipher)
    return table


async def reencrypt_installation_tokens(
    connection: AsyncConnection, rotate: Callable[[str], str]
) -> Reencryption:
    """Re-encrypts every stored Slack token with `rotate` (the newest key).

    Works on the raw columns (ciphertext in, ciphertext out): part of key rotation, after which
    the old key can be dropped. A token no configured key decrypts is left as it was and named
    by its installation's team (or Grid org): it blocks no other.
    """
    done = Reencryption()
    for table in (slack_installations, slack_bots):
        columns = [table.c[name] for name in TOKEN_COLUMNS if name in table.c]
        rows = await connection.execute(
            select(table.c.id, table.c.team_id, table.c.enterprise_id, *columns)
        )
        for row in rows.mappings():
            values: dict[str, Any] = {}
            for column in columns:
                if row[column.name] is None:
                    continue
                try:
                    values[column.name] = rotate(row[column.name])
                except TokenDecryptError:
                    owner = row["team_id"] or row["enterprise_id"]
                    done.unreadable.append(f"Slack {table.name}.{column.name} of {owner}")
            if values:
                await connection.execute(
                    update(table).where(table.c.id == row["id"]).values(values)
                )
                done.rewritten += len(values)
    return done
