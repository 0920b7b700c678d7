"""Pytest plugin: the whole stack for one test — real bot over HTTP, fake Slack, simulator, DB.

`start_bot(**env)` starts the bot with extra environment (e.g. no default Skyvia token); the
`stack` fixture is the common case: a default token, an admin and a regular member.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.simulator import RunningSimulator
from tests.constants import ADMIN, CHANNEL, MEMBER
from tests.e2e.bot_runner import SIGNING_SECRET, RunningBot, running_bot


@dataclass
class Stack:
    bot: RunningBot
    slack: FakeSlack
    sim: RunningSimulator
    send: SlackRequestSender

    async def command(self, text: str, *, user: str = MEMBER, channel: str = CHANNEL) -> str:
        """Sends `/skyvia <text>`; returns the response_url id its answers land on."""
        response = await self.send.slash_command(text, user_id=user, channel_id=channel)
        assert response.status_code == 200, response.text
        assert self.send.last_response_id is not None
        return self.send.last_response_id

    async def reply_to(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Sends a command and waits for its one ephemeral answer (the response_url post)."""
        response_id = await self.command(text, **kwargs)
        posts = await self.slack.wait_for_responses(response_id, count=1)
        return posts[0].body


StartBot = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def start_bot(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    slack_sender_factory: Callable[[str, str], SlackRequestSender],
) -> AsyncIterator[StartBot]:
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    fake_slack.add_user(MEMBER, name="dana")
    async with AsyncExitStack() as stack:

        async def start(**env: Any) -> Stack:
            env.setdefault("SKYVIA_API_TOKEN", simulator.token)
            env.setdefault("SLACK_BOT_TOKEN", fake_slack.bot_token)
            bot = await stack.enter_async_context(
                running_bot(
                    slack_api_url=fake_slack.api_url,
                    skyvia_api_url=simulator.base_url,
                    database_url=database_url,
                    **env,
                )
            )
            return Stack(bot, fake_slack, simulator, slack_sender_factory(bot.url, SIGNING_SECRET))

        yield start


@pytest.fixture
async def stack(start_bot: StartBot) -> Stack:
    return await start_bot()
