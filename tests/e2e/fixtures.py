"""Pytest plugin with the e2e kit's fixtures (register as `tests.e2e.fixtures`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack, running_fake_slack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack Web API per test, served on loopback, stopped afterwards."""
    async with running_fake_slack() as slack:
        yield slack


@pytest.fixture
async def slack_sender_factory(
    fake_slack: FakeSlack,
) -> AsyncIterator[Callable[[str, str], SlackRequestSender]]:
    """Builds senders aimed at a bot under test (its base URL and signing secret come from the
    bot's own fixture); response URLs land on `fake_slack`. Senders are closed after the test."""
    senders: list[SlackRequestSender] = []

    def make(base_url: str, signing_secret: str) -> SlackRequestSender:
        sender = SlackRequestSender(
            base_url,
            signing_secret,
            team_id=fake_slack.team_id,
            team_domain=fake_slack.team_domain,
            api_app_id=fake_slack.app_id,
            bot_user_id=fake_slack.bot_user_id,
            response_url_for=fake_slack.response_url,
        )
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        await sender.aclose()
