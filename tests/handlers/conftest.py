"""Fixtures of the handler tests: a bot without background workers, bound to workspace 123.

These tests count every call made to Skyvia and keep watches pending, which the watcher and the
alert scanner would otherwise change; and every payload Slack received is validated afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.backup_kit import assert_valid_payloads, connect
from tests.e2e.bot_fixtures import Stack, StartBot


@pytest.fixture(autouse=True)
def _payloads_are_valid(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that had a fake Slack, everything it received must be valid.

    Synchronous on purpose: it asks for `fake_slack` only when the test uses it (so unit tests
    here start no server), and an async fixture cannot set up another one that way.
    """
    uses_slack = "fake_slack" in request.fixturenames
    slack = request.getfixturevalue("fake_slack") if uses_slack else None
    yield
    if slack is not None:
        assert_valid_payloads(slack)


@pytest.fixture
async def stack(start_bot: StartBot) -> Stack:
    return await start_bot(workers=False)


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    await connect(stack)
    return stack
