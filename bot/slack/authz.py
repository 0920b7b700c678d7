"""Who may do what: roles from Slack itself plus the configured id lists.

The rules are in docs/reference/commands.md#who-may-do-what.

Roles are looked up per request with a short cache: `users.info` and `usergroups.users.list` are
rate-limited Tier-4/Tier-2 methods, and an admin flag changing is rare enough that a minute of
staleness is the better trade than a Slack call on every click. The cache is bounded (least
recently used roles go first), so a large workspace cannot grow it without limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.errors import NotAllowed

CACHE_SECONDS = 60.0
MAX_CACHED_ROLES = 5000
"""More users than click in a minute in any workspace we serve; beyond it the oldest go."""


class Role(IntEnum):
    MEMBER = 0
    OPERATOR = 1
    ADMIN = 2


ADMIN_RULE = "Only admins can {action}"
OPERATOR_RULE = "Only operators can {action}"


class Authorizer:
    def __init__(
        self,
        *,
        admins: list[str],
        operators: list[str],
        ttl: float = CACHE_SECONDS,
        max_cached: int = MAX_CACHED_ROLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admins = set(admins)
        self._operator_users = {i for i in operators if i.startswith(("U", "W"))}
        self._operator_groups = [i for i in operators if i.startswith("S")]
        self._operators_configured = bool(operators)
        self._cache: TTLCache[tuple[str, str], Role] = TTLCache(
            maxsize=max_cached, ttl=ttl, timer=clock
        )

    async def role(self, client: AsyncWebClient, team_id: str, user_id: str) -> Role:
        key = (team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        role = await self._lookup(client, user_id)
        self._cache[key] = role
        return role

    async def _lookup(self, client: AsyncWebClient, user_id: str) -> Role:
        if user_id in self._admins or await self._is_slack_admin(client, user_id):
            return Role.ADMIN
        if not self._operators_configured or user_id in self._operator_users:
            return Role.OPERATOR
        for group in self._operator_groups:
            try:
                members = await client.usergroups_users_list(usergroup=group)
            except SlackApiError:
                continue
            if user_id in (members.get("users") or []):
                return Role.OPERATOR
        return Role.MEMBER

    @staticmethod
    async def _is_slack_admin(client: AsyncWebClient, user_id: str) -> bool:
        try:
            info = await client.users_info(user=user_id)
        except SlackApiError:
            return False
        user = info.get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    async def require(
        self, client: AsyncWebClient, team_id: str, user_id: str, needed: Role, action: str
    ) -> Role:
        """Raises NotAllowed naming the rule, e.g. "Only admins can connect a channel"."""
        role = await self.role(client, team_id, user_id)
        if role < needed:
            rule = (ADMIN_RULE if needed is Role.ADMIN else OPERATOR_RULE).format(action=action)
            fix = (
                "Ask a Slack workspace admin, or one listed in SKYVIA_BOT_ADMINS."
                if needed is Role.ADMIN
                else "Ask an admin to add you (or your user group) to SKYVIA_BOT_OPERATORS."
            )
            raise NotAllowed(rule + ".", fix)
        return role
