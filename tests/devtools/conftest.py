"""Fixtures for the stand-ins' self-tests: the fake Slack (served on loopback) and a client."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_standin import FakeSlack


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    """The suite's `fake_slack` under the name these tests read best with."""
    return fake_slack


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    # No retry handlers: a 429 must surface here unless a test asks for retries.
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
