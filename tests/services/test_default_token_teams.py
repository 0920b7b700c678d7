"""SKYVIA_BOT_DEFAULT_TOKEN_TEAMS: the operator's Skyvia token serves only the listed teams.

In OAuth mode any Slack team can install the app; without this rule an admin of a stranger's
workspace could `connect 123` and act on the operator's Skyvia account.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.services.bindings import BindingService
from bot.services.channel_pauses import DEFAULT_TOKEN_REFUSED_REASON, ChannelPauses
from bot.services.errors import DefaultTokenRefused, NoDefaultToken
from bot.services.models import Reconnect
from bot.services.token_policy import TokenPolicy
from bot.simulator import RunningSimulator
from bot.skyvia.client import SkyviaClient
from bot.slack.messages.refusals import refusal_words
from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, TEAM, WORKSPACE

STRANGER = "T0STRANGER"
OWN_TOKEN = "own-token-of-the-stranger"


def service(
    db: Database, skyvia: SkyviaClient, simulator: RunningSimulator, teams: frozenset[str] | None
) -> tuple[TokenPolicy, BindingService]:
    """The token policy with the default token serving `teams`, and bindings made under it."""
    policy = TokenPolicy(
        db=db,
        cipher=TokenCipher(Fernet.generate_key().decode()),
        pauses=ChannelPauses(db),
        default_token=SecretStr(simulator.token),
        default_token_teams=teams,
    )
    return policy, BindingService(db=db, skyvia=skyvia, token_policy=policy)


async def test_an_unlisted_team_is_refused_the_default_token_and_connects_with_its_own(
    db: Database, skyvia: SkyviaClient, simulator: RunningSimulator
) -> None:
    policy, bindings = service(db, skyvia, simulator, frozenset({TEAM}))
    assert policy.default_token_serves(TEAM) and not policy.default_token_serves(STRANGER)
    simulator.state.reset_call_counts()
    with pytest.raises(DefaultTokenRefused) as refused:
        await bindings.connect(
            team_id=STRANGER, channel_id=CHANNEL, workspace_id=WORKSPACE, token=None, user_id=ADMIN
        )
    assert "does not serve this Slack workspace" in refusal_words(refused.value)[0]
    assert simulator.state.call_counts() == {}  # the operator's token was never sent
    async with db.session() as session:
        assert await BindingRepository(session).get(STRANGER, CHANNEL) is None

    simulator.state.add_token(OWN_TOKEN, [WORKSPACE])
    await bindings.connect(
        team_id=STRANGER, channel_id=CHANNEL, workspace_id=WORKSPACE, token=OWN_TOKEN, user_id=ADMIN
    )
    assert (await bindings.resolve(STRANGER, CHANNEL)).token == OWN_TOKEN
    await bindings.connect(
        team_id=TEAM, channel_id=CHANNEL, workspace_id=WORKSPACE, token=None, user_id=ADMIN
    )
    assert (await bindings.resolve(TEAM, CHANNEL)).token == simulator.token


async def test_an_empty_list_in_oauth_mode_serves_no_team(
    db: Database, skyvia: SkyviaClient, simulator: RunningSimulator
) -> None:
    policy, bindings = service(db, skyvia, simulator, frozenset())
    assert not policy.default_token_serves(TEAM)
    assert policy.has_default_token  # the modal then explains why a token is needed
    with pytest.raises(NoDefaultToken):
        await bindings.connect(
            team_id=TEAM, channel_id=CHANNEL, workspace_id=WORKSPACE, token=None, user_id=ADMIN
        )


async def test_single_workspace_mode_serves_every_team(
    db: Database, skyvia: SkyviaClient, simulator: RunningSimulator
) -> None:
    policy, _ = service(db, skyvia, simulator, None)
    assert policy.default_token_serves(STRANGER)
    assert await policy.pause_refused_defaults() == 0


async def test_a_binding_made_before_the_setting_changed_is_paused_and_never_served(
    db: Database, skyvia: SkyviaClient, simulator: RunningSimulator
) -> None:
    _, before = service(db, skyvia, simulator, None)
    for team in (TEAM, STRANGER):
        await before.connect(
            team_id=team, channel_id=CHANNEL, workspace_id=WORKSPACE, token=None, user_id=ADMIN
        )
    simulator.state.add_token(OWN_TOKEN, [WORKSPACE])
    await before.connect(
        team_id=STRANGER, channel_id="C0OWN", workspace_id=WORKSPACE, token=OWN_TOKEN, user_id=ADMIN
    )

    policy, after = service(db, skyvia, simulator, frozenset({TEAM}))
    async with db.session() as session:
        stale = await BindingRepository(session).get(STRANGER, CHANNEL)
    assert stale is not None
    with pytest.raises(DefaultTokenRefused):  # what the workers ask: never the default token
        policy.token_of(stale)

    assert await policy.pause_refused_defaults() == 1
    assert await policy.pause_refused_defaults() == 0  # idempotent: every replica runs it
    status = await after.status(STRANGER, CHANNEL)
    assert status.binding is not None and status.binding.paused_reason == (
        DEFAULT_TOKEN_REFUSED_REASON
    )
    assert status.binding.reconnect is Reconnect.WITH_ITS_OWN_TOKEN
    for team, channel in ((TEAM, CHANNEL), (STRANGER, "C0OWN")):
        kept = await after.status(team, channel)
        assert kept.binding is not None and not kept.binding.paused
