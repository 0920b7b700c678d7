"""Roles from Slack and the configured lists, and the bounded cache that spares Slack's limits."""

from __future__ import annotations

from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.errors import NotAllowed
from bot.slack.authz import Authorizer, Role
from tests.constants import ADMIN, MEMBER, TEAM

OPERATOR = "U0OPERATOR"
OPS_GROUP = "S0OPS"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlackUsers:
    """The two Slack methods the authorizer calls, with a tally of each call."""

    def __init__(self, *, admins: set[str], groups: dict[str, list[str]]) -> None:
        self.admins = admins
        self.groups = groups
        self.calls: list[tuple[str, str]] = []

    async def users_info(self, *, user: str) -> dict[str, Any]:
        self.calls.append(("users.info", user))
        return {"user": {"id": user, "is_admin": user in self.admins}}

    async def usergroups_users_list(self, *, usergroup: str) -> dict[str, Any]:
        self.calls.append(("usergroups.users.list", usergroup))
        if usergroup not in self.groups:
            raise SlackApiError("no_such_subteam", cast(Any, {"error": "no_such_subteam"}))
        return {"users": self.groups[usergroup]}

    @property
    def client(self) -> AsyncWebClient:
        return cast(AsyncWebClient, self)


@pytest.fixture
def slack() -> SlackUsers:
    return SlackUsers(admins={ADMIN}, groups={OPS_GROUP: ["U0GROUPIE"]})


async def test_slack_admins_and_listed_admins_are_admins(slack: SlackUsers) -> None:
    authz = Authorizer(admins=["U0LISTED"], operators=[])
    assert await authz.role(slack.client, TEAM, ADMIN) is Role.ADMIN
    assert await authz.role(slack.client, TEAM, "U0LISTED") is Role.ADMIN


async def test_with_no_operators_configured_everyone_operates(slack: SlackUsers) -> None:
    authz = Authorizer(admins=[], operators=[])
    assert await authz.role(slack.client, TEAM, MEMBER) is Role.OPERATOR


async def test_operators_are_listed_users_or_members_of_listed_groups(slack: SlackUsers) -> None:
    authz = Authorizer(admins=[], operators=[OPERATOR, "S0GONE", OPS_GROUP])
    assert await authz.role(slack.client, TEAM, OPERATOR) is Role.OPERATOR
    assert await authz.role(slack.client, TEAM, "U0GROUPIE") is Role.OPERATOR
    assert await authz.role(slack.client, TEAM, MEMBER) is Role.MEMBER  # a gone group is skipped


async def test_require_names_the_rule_and_how_to_get_the_role(slack: SlackUsers) -> None:
    authz = Authorizer(admins=[], operators=[OPERATOR])
    with pytest.raises(NotAllowed) as refused:
        await authz.require(slack.client, TEAM, MEMBER, Role.ADMIN, "connect a channel")
    assert refused.value.rule == "Only admins can connect a channel."
    with pytest.raises(NotAllowed) as refused:
        await authz.require(slack.client, TEAM, MEMBER, Role.OPERATOR, "start a snapshot")
    assert refused.value.rule == "Only operators can start a snapshot."
    assert "SKYVIA_BOT_OPERATORS" in refused.value.fix
    role = await authz.require(slack.client, TEAM, OPERATOR, Role.OPERATOR, "start a snapshot")
    assert role is Role.OPERATOR


async def test_a_role_is_asked_of_slack_once_per_ttl(slack: SlackUsers) -> None:
    clock = FakeClock()
    authz = Authorizer(admins=[], operators=[], ttl=60.0, clock=clock)
    await authz.role(slack.client, TEAM, MEMBER)
    clock.now += 59
    await authz.role(slack.client, TEAM, MEMBER)
    assert slack.calls == [("users.info", MEMBER)]
    clock.now += 2
    await authz.role(slack.client, TEAM, MEMBER)
    assert slack.calls == [("users.info", MEMBER)] * 2


async def test_the_role_cache_holds_at_most_its_bound(slack: SlackUsers) -> None:
    authz = Authorizer(admins=[], operators=[], max_cached=2, clock=FakeClock())
    for user in ("U01", "U02", "U03"):
        await authz.role(slack.client, TEAM, user)
    assert len(authz._cache) == 2
    await authz.role(slack.client, TEAM, "U03")  # still cached
    await authz.role(slack.client, TEAM, "U01")  # the oldest went to make room
    assert [user for _, user in slack.calls] == ["U01", "U02", "U03", "U01"]


async def test_roles_are_cached_per_team(slack: SlackUsers) -> None:
    authz = Authorizer(admins=[], operators=[], clock=FakeClock())
    await authz.role(slack.client, TEAM, MEMBER)
    await authz.role(slack.client, "T0OTHER", MEMBER)
    assert len(slack.calls) == 2
