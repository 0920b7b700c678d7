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
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

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
FOREIGN_RULE = (
    "People from another organisation in a shared channel can't {action}: only members of "
    "the Slack workspace that connected it can"
)
GUEST_RULE = "Guests can't {action}: only full members of the Slack workspace can"


@dataclass(frozen=True)
class Standing:
    """A user's role, and why they may only read however high it is (`outsider`)."""

    role: Role
    outsider: str | None = None  # FOREIGN_RULE or GUEST_RULE


def outsider_rule(user: dict[str, Any], team_id: str) -> str | None:
    """The read-only rule that applies to a `users.info` user in `team_id`, if any.

    Slack Connect: a member of another organisation is an admin of *their* workspace, and
    `is_admin` says so; only their `team_id` tells them apart. In Enterprise Grid, a member of
    another workspace of the same org lists ours among `enterprise_user.teams`. Guests (single-
    and multi-channel) are `is_restricted` / `is_ultra_restricted`.
    """
    home = user.get("team_id")
    teams = (user.get("enterprise_user") or {}).get("teams") or []
    if home and home != team_id and team_id not in teams:
        return FOREIGN_RULE
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return GUEST_RULE
    return None


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
        self._cache: TTLCache[tuple[str, str], Standing] = TTLCache(
            maxsize=max_cached, ttl=ttl, timer=clock
        )

    async def standing(self, client: AsyncWebClient, team_id: str, user_id: str) -> Standing:
        key = (team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        standing = await self._lookup(client, team_id, user_id)
        self._cache[key] = standing
        return standing

    async def role(self, client: AsyncWebClient, team_id: str, user_id: str) -> Role:
        return (await self.standing(client, team_id, user_id)).role

    async def _lookup(self, client: AsyncWebClient, team_id: str, user_id: str) -> Standing:
        user = await self._user_info(client, user_id)
        outsider = outsider_rule(user, team_id)
        is_slack_admin = bool(
            user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
        )
        if user_id in self._admins or (is_slack_admin and outsider is None):
            return Standing(Role.ADMIN, outsider)
        if not self._operators_configured or user_id in self._operator_users:
            return Standing(Role.OPERATOR, outsider)
        for group in self._operator_groups:
            try:
                members = await client.usergroups_users_list(usergroup=group)
            except SlackApiError:
                continue
            if user_id in (members.get("users") or []):
                return Standing(Role.OPERATOR, outsider)
        return Standing(Role.MEMBER, outsider)

    @staticmethod
    async def _user_info(client: AsyncWebClient, user_id: str) -> dict[str, Any]:
        try:
            info = await client.users_info(user=user_id)
        except SlackApiError:
            return {}
        user = info.get("user")
        return user if isinstance(user, dict) else {}

    async def require(
        self,
        client: AsyncWebClient,
        team_id: str,
        user_id: str,
        needed: Role,
        action: str,
        *,
        user_team_id: str | None = None,
    ) -> Role:
        """Raises NotAllowed naming the rule, e.g. "Only admins can connect a channel".

        Outsiders (another organisation's people in a shared channel, guests) may read but never
        change, whatever role a list gives them. `user_team_id` is the user's own team when the
        payload names it (Slack Connect), which settles "another organisation" without a call.
        """
        standing = await self.standing(client, team_id, user_id)
        outsider = standing.outsider
        if user_team_id and user_team_id != team_id and outsider is None:
            outsider = FOREIGN_RULE
        if outsider is not None and needed > Role.MEMBER:
            raise NotAllowed(
                outsider.format(action=action) + ".",
                "Ask a member of this Slack workspace who is an admin or operator.",
            )
        role = standing.role
        if role < needed:
            rule = (ADMIN_RULE if needed is Role.ADMIN else OPERATOR_RULE).format(action=action)
            fix = (
                "Ask a Slack workspace admin, or one listed in SKYVIA_BOT_ADMINS."
                if needed is Role.ADMIN
                else "Ask an admin to add you (or your user group) to SKYVIA_BOT_OPERATORS."
            )
            raise NotAllowed(rule + ".", fix)
        return role
