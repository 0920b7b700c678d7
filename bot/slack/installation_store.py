"""slack_sdk's SQLAlchemy installation store on our engine, with every token encrypted at rest.

The tables are ours (`storage.slack_tables`, created by our migrations); the store queries them
through slack_sdk's own table objects, whose token columns are switched to the encrypted type, so
slack_sdk's save, find and delete run unchanged and never see ciphertext.

It also finds a team's bot the way the workers need it, Enterprise Grid included
(`find_bot_for_team`). Key rotation works on the stored ciphertext and so stays in storage
(`storage.slack_tables.reencrypt_installation_tokens`).
"""

from __future__ import annotations

import logging

from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from sqlalchemy import desc
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.crypto import TokenCipher
from storage.slack_tables import encrypt_token_columns, slack_bots, slack_installations

log = logging.getLogger(__name__)


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
        super().__init__(
            client_id=client_id,
            engine=engine,
            bots_table_name=slack_bots.name,
            installations_table_name=slack_installations.name,
            logger=logger,
        )
        encrypt_token_columns(self.bots, cipher)
        encrypt_token_columns(self.installations, cipher)

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
