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


class SharedChannelUsers(SlackUsers):
    """Users as `users.info` shows them in a Slack Connect channel: some of another team."""

    def __init__(self, profiles: dict[str, dict[str, Any]]) -> None:
        super().__init__(admins=set(), groups={})
        self.profiles = profiles

    async def users_info(self, *, user: str) -> dict[str, Any]:
        self.calls.append(("users.info", user))
        return {"user": {"id": user, **self.profiles[user]}}


@pytest.fixture
def shared() -> SharedChannelUsers:
    return SharedChannelUsers(
        {
            "U0THEIRADMIN": {"team_id": "T0THEIRS", "is_admin": True, "is_owner": True},
            "U0GUEST": {"team_id": TEAM, "is_restricted": True},
            "U0SINGLE": {"team_id": TEAM, "is_restricted": True, "is_ultra_restricted": True},
            "U0GRID": {
                "team_id": "T0SISTER",
                "is_admin": True,
                "enterprise_user": {"teams": [TEAM]},
            },
            ADMIN: {"team_id": TEAM, "is_admin": True},
        }
    )


async def test_another_organisations_admin_may_read_but_not_change(
    shared: SharedChannelUsers,
) -> None:
    authz = Authorizer(admins=[], operators=[])
    assert await authz.require(shared.client, TEAM, "U0THEIRADMIN", Role.MEMBER, "read")
    for needed in (Role.OPERATOR, Role.ADMIN):
        with pytest.raises(NotAllowed) as refused:
            await authz.require(shared.client, TEAM, "U0THEIRADMIN", needed, "disconnect a channel")
        assert refused.value.rule.startswith(
            "People from another organisation in a shared channel can't disconnect a channel"
        )


async def test_guests_may_read_but_not_change_even_when_listed(
    shared: SharedChannelUsers,
) -> None:
    authz = Authorizer(admins=["U0GUEST"], operators=["U0SINGLE"])
    for guest in ("U0GUEST", "U0SINGLE"):
        assert await authz.require(shared.client, TEAM, guest, Role.MEMBER, "read") is not None
        with pytest.raises(NotAllowed) as refused:
            await authz.require(shared.client, TEAM, guest, Role.OPERATOR, "start a snapshot")
        assert refused.value.rule.startswith("Guests can't start a snapshot")


async def test_a_payloads_other_user_team_refuses_without_asking_slack_again(
    shared: SharedChannelUsers,
) -> None:
    """Block actions name the user's own team; another one is Slack Connect, whatever users.info
    said a minute ago (the cache)."""
    authz = Authorizer(admins=[], operators=[])
    assert await authz.role(shared.client, TEAM, ADMIN) is Role.ADMIN
    with pytest.raises(NotAllowed) as refused:
        await authz.require(
            shared.client, TEAM, ADMIN, Role.ADMIN, "connect a channel", user_team_id="T0THEIRS"
        )
    assert "another organisation" in refused.value.rule
    assert await authz.require(
        shared.client, TEAM, ADMIN, Role.ADMIN, "connect a channel", user_team_id=TEAM
    )


async def test_a_grid_member_of_a_sister_workspace_that_includes_ours_is_no_outsider(
    shared: SharedChannelUsers,
) -> None:
    authz = Authorizer(admins=[], operators=[])
    assert await authz.require(shared.client, TEAM, "U0GRID", Role.ADMIN, "connect a channel")


async def test_a_grid_members_click_naming_their_own_workspace_is_no_outsiders(
    shared: SharedChannelUsers,
) -> None:
    """A click carries the user's own workspace: in the same Grid org that is not ours, and the
    same rule as for a command applies (only a workspace outside the org is foreign)."""
    authz = Authorizer(admins=[], operators=[])
    assert await authz.require(
        shared.client, TEAM, "U0GRID", Role.ADMIN, "connect a channel", user_team_id="T0SISTER"
    )
    with pytest.raises(NotAllowed):
        await authz.require(
            shared.client, TEAM, "U0GRID", Role.ADMIN, "connect a channel", user_team_id="T0ELSE"
        )


async def test_a_failed_lookup_refuses_changes_and_is_not_cached() -> None:
    class Failing(SlackUsers):
        async def users_info(self, *, user: str) -> dict[str, Any]:
            self.calls.append(("users.info", user))
            raise SlackApiError("fatal_error", cast(Any, {"error": "fatal_error"}))

    slack = Failing(admins=set(), groups={})
    authz = Authorizer(admins=[ADMIN], operators=[])
    assert await authz.require(slack.client, TEAM, MEMBER, Role.MEMBER, "read") is Role.MEMBER
    for user in (MEMBER, ADMIN):
        with pytest.raises(NotAllowed) as refused:
            await authz.require(slack.client, TEAM, user, Role.OPERATOR, "start a snapshot")
        assert refused.value.rule.startswith("Slack could not say who you are")
        assert "again" in refused.value.fix
    assert len(slack.calls) == 3 and len(authz._cache) == 0
