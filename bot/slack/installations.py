"""A team's Slack installation coming and going: forget it on uninstall, resume on reinstall.

When Slack says the app was uninstalled (or its bot token revoked), the installation's tokens
are useless and should not be kept: `TeamInstallations.forget` deletes them from the store and
drops the team's cached client. The team's bindings are paused by the caller, so the workers
post nothing for that team.

A later install of the same team goes through the OAuth flow, which saves a new installation.
`ResumingInstallationStore` wraps whatever store the app uses and, after a successful save,
calls `on_installed(team_id)`, which lifts the pauses the uninstall made; pauses with other
causes (an archived channel) stay.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from logging import Logger
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

log = logging.getLogger(__name__)

OnInstalled = Callable[[str, str | None], Awaitable[Any]]
"""Called with the installed team and, for an org-wide install, its Grid org's id."""


class ResumingInstallationStore(AsyncInstallationStore):
    """Delegates to `inner`; after each saved installation, tells `on_installed` its team."""

    def __init__(self, inner: AsyncInstallationStore, on_installed: OnInstalled) -> None:
        self.inner = inner
        self._on_installed = on_installed

    @property
    def logger(self) -> Logger:
        return self.inner.logger

    async def async_save(self, installation: Installation) -> None:
        await self.inner.async_save(installation)
        team_id = installation.team_id or installation.enterprise_id
        if not team_id:
            return
        org = installation.enterprise_id if installation.is_enterprise_install else None
        try:
            await self._on_installed(team_id, org)
        except Exception:  # the install itself succeeded; `status` still shows the pause
            log.exception("could not resume the bindings of reinstalled team %s", team_id)

    async def async_save_bot(self, bot: Bot) -> None:
        await self.inner.async_save_bot(bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await self.inner.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await self.inner.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        await self.inner.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)


class TeamInstallations:
    """Removes a team's installation when Slack says it is gone (nothing to do with one token)."""

    def __init__(
        self,
        store: AsyncInstallationStore | None,
        *,
        evict: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._evict = evict

    async def forget(
        self, team_id: str, enterprise_id: str | None = None, *, org_wide: bool = False
    ) -> bool:
        """Deletes the team's stored tokens (`org_wide`: the org-wide install of Grid org
        `enterprise_id`, stored without a team id); False in single-workspace mode (no store)."""
        if self._store is None or not team_id:
            return False
        stored_team = None if org_wide and enterprise_id else team_id
        bot = await self._store.async_find_bot(
            enterprise_id=enterprise_id, team_id=stored_team, is_enterprise_install=org_wide
        )
        await self._store.async_delete_all(enterprise_id=enterprise_id, team_id=stored_team)
        if bot is not None and bot.bot_token and self._evict is not None:
            self._evict(bot.bot_token)
        log.warning("Slack installation of team %s removed", team_id, extra={"team": team_id})
        return True
