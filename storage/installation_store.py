"""slack_sdk's SQLAlchemy installation store, with every token encrypted at rest.

Installations hold bot tokens (and user and refresh tokens when Slack issues them); with the
history scopes a bot token reads every channel the bot is in. They are encrypted with the same
Fernet keys as Skyvia tokens: the token columns of the store's tables get a type that encrypts
on the way in and decrypts on the way out, so slack_sdk's own queries (save, find, delete) run
unchanged and never see ciphertext, while the database never sees a token.

It also finds a team's bot the way the workers need it, Enterprise Grid included
(`find_bot_for_team`), and re-encrypts the tokens for key rotation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from sqlalchemy import Dialect, Table, desc, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import Text, TypeDecorator

from storage.crypto import Reencryption, TokenCipher, TokenDecryptError
from storage.slack_tables import TOKEN_COLUMNS

log = logging.getLogger(__name__)


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


def _encrypt_tokens(table: Table, cipher: TokenCipher) -> Table:
    for name in TOKEN_COLUMNS:
        if name in table.c:
            table.c[name].type = EncryptedToken(cipher)
    return table


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """The stock async SQLAlchemy store on our engine, its token columns encrypted."""

    def __init__(
        self,
        *,
        client_id: str,
        engine: AsyncEngine,
        cipher: TokenCipher,
        logger: logging.Logger = log,
    ) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=logger)
        _encrypt_tokens(self.bots, cipher)
        _encrypt_tokens(self.installations, cipher)

    async def find_bot_for_team(self, team_id: str, enterprise_id: str | None) -> Bot | None:
        """The bot that serves workspace `team_id`: its own install, else its Grid org's.

        A workspace of an Enterprise Grid org is served by a workspace install (stored with both
        ids) or by an org-wide install (stored with the enterprise id only). With the enterprise
        unknown (bindings made before it was recorded), a workspace install is still found by
        the team id alone: Slack's team ids are unique across organizations.
        """
        if enterprise_id is not None:
            bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
            if bot is None:
                bot = await self.async_find_bot(
                    enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
                )
            return bot
        c = self.bots.c
        query = (
            self.bots.select()
            .where(c.client_id == self.client_id, c.team_id == team_id, c.bot_token.is_not(None))
            .order_by(desc(c.installed_at))
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else SQLAlchemyInstallationStore.build_bot_entity(row)


async def reencrypt_installation_tokens(
    connection: AsyncConnection, rotate: Callable[[str], str]
) -> Reencryption:
    """Re-encrypts every stored Slack token with `rotate` (the newest key).

    Works on the raw columns (ciphertext in, ciphertext out): part of key rotation, after which
    the old key can be dropped. A token no configured key decrypts is left as it was and named
    by its installation's team (or Grid org): it blocks no other.
    """
    from storage.slack_tables import installation_tables

    done = Reencryption()
    for table in installation_tables():
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
