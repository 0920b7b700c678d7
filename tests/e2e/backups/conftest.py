"""Fixtures of the command/button/Home tests: a bot without background workers, bound to 123.

These tests count every call made to Skyvia and keep watches pending, which the watcher and the
alert scanner would otherwise change; and every payload Slack received is validated afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.backup_kit import assert_valid_payloads, connect
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.fake_slack import FakeSlack


@pytest.fixture(autouse=True)
async def _payloads_are_valid(fake_slack: FakeSlack) -> AsyncIterator[None]:
    yield
    assert_valid_payloads(fake_slack)


@pytest.fixture
async def stack(start_bot: StartBot) -> Stack:
    return await start_bot(workers=False)


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    await connect(stack)
    return stack
