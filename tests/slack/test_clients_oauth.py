"""OAuth installations as the workers use them: a team's bot found by team (Grid included), and
an expiring rotating token refreshed once, through SLACK_API_URL, and saved for requests too."""

from __future__ import annotations

import asyncio

from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_standin import FakeSlack
from bot.slack.clients import SlackClients
from bot.slack.installation_store import EncryptedInstallationStore
from storage.crypto import TokenCipher
from storage.db import Database

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "worker-test-secret"
TEAM = "T0ROT"


async def installed(fake_slack: FakeSlack, store: EncryptedInstallationStore) -> str:
    """Installs TEAM through the stand-in's oauth.v2.access; returns the bot token."""
    code = fake_slack.oauth.approve(TEAM, installer="U0INSTALLER")
    setup = AsyncWebClient(base_url=fake_slack.api_url)
    answer = await setup.oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
    )
    await store.async_save(
        Installation(
            app_id=answer["app_id"],
            team_id=TEAM,
            user_id="U0INSTALLER",
            bot_token=answer["access_token"],
            bot_refresh_token=answer.get("refresh_token"),
            bot_token_expires_in=answer.get("expires_in"),
            bot_id="B0ROT",
            bot_user_id=answer["bot_user_id"],
        )
    )
    return str(answer["access_token"])


def clients_for(
    fake_slack: FakeSlack, store: EncryptedInstallationStore, db: Database | None = None
) -> SlackClients:
    clients = SlackClients(
        base_url=fake_slack.api_url,
        metrics=None,
        bot_token=None,
        installation_store=store,
        db=db,
    )
    clients.rotator = AsyncTokenRotator(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client=clients.oauth
    )
    return clients


def refreshes(fake_slack: FakeSlack) -> int:
    return sum(
        1
        for c in fake_slack.calls_to("oauth.v2.access")
        if c.args.get("grant_type") == "refresh_token"
    )


async def test_a_worker_rotates_an_expiring_token_once_and_saves_it(
    db: Database, fake_slack: FakeSlack
) -> None:
    store = EncryptedInstallationStore(
        client_id=CLIENT_ID, engine=db.engine, cipher=TokenCipher(Fernet.generate_key().decode())
    )
    fake_slack.oauth.configure(CLIENT_ID, CLIENT_SECRET, token_rotation=True, expires_in=60)
    installed_token = await installed(fake_slack, store)
    fake_slack.oauth.expires_in = 43_200  # the rotated token lasts
    clients = clients_for(fake_slack, store)
    try:
        first, second = await asyncio.gather(clients.for_team(TEAM), clients.for_team(TEAM))
        await (await clients.for_team(TEAM)).chat_postMessage(channel="C0ROT", text="alert")
    finally:
        await clients.aclose()

    rotated = fake_slack.oauth.issued[-1].token
    assert rotated != installed_token
    assert first.token == second.token == rotated
    assert refreshes(fake_slack) == 1  # concurrent callers, then a later one: one rotation
    assert fake_slack.calls_to("chat.postMessage")[-1].token == rotated
    bot = await store.find_bot_for_team(TEAM, None)
    installation = await store.async_find_installation(enterprise_id=None, team_id=TEAM)
    assert bot is not None and bot.bot_token == rotated
    assert installation is not None and installation.bot_token == rotated  # Bolt reads this one


async def test_two_replicas_rotate_an_expiring_token_once_between_them(
    db: Database, fake_slack: FakeSlack
) -> None:
    """Issue 18 (suspicion, true): the rotation lock was per process, so two replicas (or a
    request and a worker) whose token expired together both exchanged the refresh token, and
    each went on with a different token. Slack honours a refresh token once: the later one
    fails, or leaves the other replica with a token Slack replaced. The turn is now a lease in
    the database, and the replica that waited for it uses the token the other one saved."""
    store = EncryptedInstallationStore(
        client_id=CLIENT_ID, engine=db.engine, cipher=TokenCipher(Fernet.generate_key().decode())
    )
    fake_slack.oauth.configure(CLIENT_ID, CLIENT_SECRET, token_rotation=True, expires_in=60)
    installed_token = await installed(fake_slack, store)
    fake_slack.oauth.expires_in = 43_200
    fake_slack.set_latency(0.2)  # the exchange takes a while: both replicas are in it at once
    one, two = clients_for(fake_slack, store, db), clients_for(fake_slack, store, db)
    try:
        first, second = await asyncio.gather(one.for_team(TEAM), two.for_team(TEAM))
    finally:
        await one.aclose()
        await two.aclose()

    rotated = fake_slack.oauth.issued[-1].token
    assert refreshes(fake_slack) == 1
    assert rotated != installed_token and first.token == second.token == rotated
    bot = await store.find_bot_for_team(TEAM, None)
    assert bot is not None and bot.bot_token == rotated


async def test_a_token_that_does_not_rotate_is_used_as_it_is(
    db: Database, fake_slack: FakeSlack
) -> None:
    store = EncryptedInstallationStore(
        client_id=CLIENT_ID, engine=db.engine, cipher=TokenCipher(Fernet.generate_key().decode())
    )
    fake_slack.oauth.configure(CLIENT_ID, CLIENT_SECRET)
    token = await installed(fake_slack, store)
    clients = clients_for(fake_slack, store)
    try:
        client = await clients.for_team(TEAM)
    finally:
        await clients.aclose()

    assert client.token == token and refreshes(fake_slack) == 0
