"""The App Home's stack (a pytest plugin, see tests/conftest.py): three bound channels the
member sees differently, and opening the tab as Slack does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.constants import ADMIN, CHANNEL, MEMBER
from tests.e2e.backup_kit import connect
from tests.e2e.bot_fixtures import Stack

SECRET = "C0SECRET"  # private; the bot is in it, MEMBER is not
CREW = "C0CREW"  # private; the bot and MEMBER are both in it


@pytest.fixture
async def home_stack(stack: Stack) -> Stack:
    """Three bound channels: public CHANNEL, private SECRET and CREW (MEMBER is in CREW only)."""
    stack.slack.add_channel(CHANNEL, name="ops")
    stack.slack.add_channel(SECRET, name="secret", is_private=True, members=[ADMIN])
    stack.slack.add_channel(CREW, name="crew", is_private=True, members=[ADMIN, MEMBER])
    for channel, workspace in ((CHANNEL, 123), (SECRET, 124), (CREW, 123)):
        await connect(stack, channel, workspace)
    return stack


async def open_home(stack: Stack, user: str, publishes: int) -> dict[str, Any]:
    response = await stack.send.app_home_opened(user)
    assert response.status_code == 200
    calls = await stack.slack.wait_for(
        "views.publish", lambda c: c.ok and c.args["user_id"] == user, count=publishes
    )
    return calls[-1].args["view"]
