"""Helpers for the OAuth e2e tests: a bot in OAuth mode, installs as a browser makes them, a
request sender per team, and where each team's calls went with which token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack, PostedMessage, SlackCall
from bot.simulator import RunningSimulator
from storage.db import Database
from tests.e2e.bot_runner import SIGNING_SECRET, RunningBot, running_bot
from tests.e2e.worker_kit import alerts_in

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret-0123456789"
STATE = re.compile(r"oauth/v2/authorize\?state=([^&\"]+)")


@asynccontextmanager
async def oauth_bot(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    *,
    teams: str,
    workers: bool = True,
    token_rotation: bool = False,
    expires_in: int = 43_200,
) -> AsyncIterator[RunningBot]:
    """The bot in OAuth mode (no SLACK_BOT_TOKEN); the default Skyvia token serves `teams`."""
    fake_slack.oauth.configure(
        CLIENT_ID, CLIENT_SECRET, token_rotation=token_rotation, expires_in=expires_in
    )
    async with running_bot(
        workers=workers,
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        SKYVIA_API_TOKEN=simulator.token,
        SKYVIA_BOT_DEFAULT_TOKEN_TEAMS=teams,
    ) as bot:
        yield bot


async def install(bot: RunningBot, fake_slack: FakeSlack, team_id: str | None, **grant: Any) -> str:
    """Installs the app as a browser does; returns the bot token Slack issued.

    `/slack/install` sets the state cookie and links to Slack with the same state; the user
    approves there (`approve`), and Slack redirects back with a code and the state.
    """
    async with httpx.AsyncClient(base_url=bot.url) as browser:
        page = await browser.get("/slack/install")
        assert page.status_code == 200, page.text
        found = STATE.search(page.text)
        assert found is not None, page.text
        cookie = page.headers["set-cookie"].split(";")[0]
        code = fake_slack.oauth.approve(team_id, installer=f"U{team_id}INSTALLER", **grant)
        done = await browser.get(
            "/slack/oauth_redirect",
            params={"code": code, "state": found.group(1)},
            headers={"Cookie": cookie},  # Secure cookies are not sent over http by the jar
        )
    assert done.status_code == 200, done.text
    return fake_slack.oauth.issued[-1].token


@asynccontextmanager
async def team_senders(
    bot: RunningBot, fake_slack: FakeSlack, **teams: dict[str, Any]
) -> AsyncIterator[dict[str, SlackRequestSender]]:
    """A signed-request sender per team (`name={"team_id": ..., "enterprise_id": ...}`)."""
    async with AsyncExitStack() as stack:
        senders = {}
        for name, options in teams.items():
            senders[name] = await stack.enter_async_context(
                SlackRequestSender(
                    bot.url,
                    SIGNING_SECRET,
                    team_domain=name,
                    api_app_id=fake_slack.app_id,
                    response_url_for=fake_slack.response_url,
                    **options,
                )
            )
        yield senders


async def command(sender: SlackRequestSender, text_: str, *, user: str, channel: str) -> str:
    response = await sender.slash_command(text_, user_id=user, channel_id=channel)
    assert response.status_code == 200, response.text
    assert sender.last_response_id is not None
    return sender.last_response_id


def ok_in(channel: str) -> Callable[[SlackCall], bool]:
    """Matches a successful call in `channel`."""
    return lambda call: call.ok and call.args["channel"] == channel


def alert_of(
    fake_slack: FakeSlack, channel: str, snapshot_id: int
) -> Callable[[], list[PostedMessage]]:
    """Polls for the failure alert of `snapshot_id` in `channel`."""
    return lambda: alerts_in(fake_slack, channel, snapshot_id)


def posts_in(fake_slack: FakeSlack, channel: str) -> list[SlackCall]:
    return [
        c for c in fake_slack.calls_to("chat.postMessage") if c.ok and c.args["channel"] == channel
    ]


async def stored_token_values(db: Database) -> list[str]:
    """Every value of every column of the installation tables, as text."""
    values: list[str] = []
    async with db.engine.connect() as connection:
        for table in ("slack_installations", "slack_bots"):
            rows = await connection.execute(text(f"SELECT * FROM {table}"))
            values.extend(str(value) for row in rows for value in row)
    return values


@dataclass
class Team:
    team_id: str
    admin: str
    channel: str
