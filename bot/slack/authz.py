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
UNKNOWN_RULE = (
    "Slack could not say who you are just now, so you can't {action}: changes wait until it can"
)
UNKNOWN_FIX = "Try again in a minute."
OUTSIDER_FIX = "Ask a member of this Slack workspace who is an admin or operator."


@dataclass(frozen=True)
class Standing:
    """A user's role, and why they may only read however high it is (`outsider`).

    `org_teams`: the workspaces `users.info` places this person in, when ours is among them
    (their own, and their Enterprise Grid org's), so a click naming one of them is no outsider's.
    """

    role: Role
    outsider: str | None = None  # FOREIGN_RULE, GUEST_RULE or UNKNOWN_RULE
    org_teams: frozenset[str] = frozenset()


UNKNOWN = Standing(Role.MEMBER, UNKNOWN_RULE)
"""Who `users.info` could not tell: a reader, never remembered (the next request asks again)."""


def outsider_rule(user: dict[str, Any], team_id: str) -> str | None:
    """The read-only rule that applies to a `users.info` user in `team_id`, if any.

    Slack Connect: a member of another organisation is an admin of *their* workspace, and
    `is_admin` says so; only their `team_id` tells them apart. In Enterprise Grid, a member of
    another workspace of the same org lists ours among `enterprise_user.teams`. Guests (single-
    and multi-channel) are `is_restricted` / `is_ultra_restricted`.
    """
    home = user.get("team_id")
    if home and team_id not in _org_teams(user, team_id):
        return FOREIGN_RULE
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return GUEST_RULE
    return None


def _org_teams(user: dict[str, Any], team_id: str) -> frozenset[str]:
    """The workspaces of `user`'s own organisation, if `team_id` is one of them (else none):
    their home workspace and, in Enterprise Grid, the org's workspaces `users.info` lists."""
    home = user.get("team_id")
    teams = frozenset((user.get("enterprise_user") or {}).get("teams") or []) | {home or team_id}
    return teams if team_id in teams else frozenset()


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
        if standing is not UNKNOWN:
            self._cache[key] = standing
        return standing

    async def role(self, client: AsyncWebClient, team_id: str, user_id: str) -> Role:
        return (await self.standing(client, team_id, user_id)).role

    async def _lookup(self, client: AsyncWebClient, team_id: str, user_id: str) -> Standing:
        user = await self._user_info(client, user_id)
        if user is None:
            return UNKNOWN
        outsider = outsider_rule(user, team_id)
        teams = _org_teams(user, team_id)
        is_slack_admin = bool(
            user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
        )
        if user_id in self._admins or (is_slack_admin and outsider is None):
            return Standing(Role.ADMIN, outsider, teams)
        if not self._operators_configured or user_id in self._operator_users:
            return Standing(Role.OPERATOR, outsider, teams)
        for group in self._operator_groups:
            try:
                members = await client.usergroups_users_list(usergroup=group)
            except SlackApiError:
                continue
            if user_id in (members.get("users") or []):
                return Standing(Role.OPERATOR, outsider, teams)
        return Standing(Role.MEMBER, outsider, teams)

    @staticmethod
    async def _user_info(client: AsyncWebClient, user_id: str) -> dict[str, Any] | None:
        """The `users.info` user, or None when Slack could not say (then nobody may change)."""
        try:
            info = await client.users_info(user=user_id)
        except SlackApiError:
            return None
        user = info.get("user")
        return user if isinstance(user, dict) else None

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
        change, whatever role a list gives them; nor may anyone Slack could not name just now.
        `user_team_id` is the user's own team when the payload names it (a click): one that is
        not ours nor of our Grid org (as `users.info` said) is another organisation, whatever
        the cached standing says; a command's is the team it was typed in, so the same rule.
        """
        standing = await self.standing(client, team_id, user_id)
        outsider = _outsider(standing, team_id, user_team_id)
        if outsider is not None and needed > Role.MEMBER:
            raise NotAllowed(
                outsider.format(action=action) + ".",
                UNKNOWN_FIX if outsider is UNKNOWN_RULE else OUTSIDER_FIX,
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

    async def require_insider(
        self,
        client: AsyncWebClient,
        team_id: str,
        user_id: str,
        action: str,
        *,
        user_team_id: str | None = None,
    ) -> None:
        """Any full member of the team may do this, whatever their role; outsiders (another
        organisation, guests, someone Slack could not name just now) may not, as for changes."""
        standing = await self.standing(client, team_id, user_id)
        outsider = _outsider(standing, team_id, user_team_id)
        if outsider is not None:
            raise NotAllowed(
                outsider.format(action=action) + ".",
                UNKNOWN_FIX if outsider is UNKNOWN_RULE else OUTSIDER_FIX,
            )


def _outsider(standing: Standing, team_id: str, user_team_id: str | None) -> str | None:
    """The read-only rule that applies, if any. `user_team_id` is the user's own team when the
    payload names it (a click): one that is not ours nor of our Grid org (as `users.info`
    said) is another organisation, whatever the cached standing says."""
    outsider = standing.outsider
    if user_team_id and user_team_id != team_id and outsider is None:
        outsider = None if user_team_id in standing.org_teams else FOREIGN_RULE
    return outsider
