"""Malformed but properly signed requests are answered 400 with one log line, never a 500.

Slack never sends these, but a signed request is still only as good as what it carries: a bug in
a proxy, a replayed body or an edited modal must not show up as a server error with a traceback.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest

from bot.devtools.slack_requests import Signing
from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from tests.constants import ADMIN
from tests.e2e.bot_fixtures import Stack, StartBot

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

MALFORMED = {
    "interactivity payload is not JSON": (b"payload=%7Bnot-json", FORM),
    "interactivity payload is a JSON list": (urlencode({"payload": "[1, 2]"}).encode(), FORM),
    "event body is not JSON": (b'{"type": "event_callback", ', JSON),
    "event body is a JSON list": (b'[{"type": "event_callback"}]', JSON),
    "form with two payloads": (b"payload=%7B%7D&payload=%7B%7D", FORM),
    "form body is not UTF-8": (b"payload=\xff\xfe%7B%7D", FORM),
    "JSON body is not UTF-8": (b'{"type": "\xff"}', JSON),
}


def _problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_signed_request_is_answered_400_with_one_line(
    stack: Stack, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type = MALFORMED[case]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = await stack.send.raw(body, content_type)
    assert response.status_code == 400, response.text
    problems = _problems(caplog)
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].exc_info is None and problems[0].levelno == logging.WARNING
    assert stack.slack.calls == []


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_unsigned_request_is_still_refused_as_unsigned(
    stack: Stack, case: str
) -> None:
    """The 400 is only for requests Slack signed: anyone else learns nothing but 401."""
    body, content_type = MALFORMED[case]
    response = await stack.send.raw(body, content_type, Signing.BAD)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "metadata", ["", "not-json", '{"channel_id": "nope"}', "[1]", '{"channel_id": 5}']
)
async def test_a_connect_modal_with_bad_private_metadata_is_answered_400(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture, metadata: str
) -> None:
    stack = await start_bot(SKYVIA_API_TOKEN=None)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = await stack.send.view_submission(
            CallbackId.CONNECT_MODAL,
            {
                BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "123"},
                BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: "sk-some-token-0123456789"},
            },
            user_id=ADMIN,
            private_metadata=metadata,
        )
    assert response.status_code == 400, response.text
    problems = _problems(caplog)
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].exc_info is None
    assert stack.slack.calls_to("chat.postMessage") == []
    assert sum(stack.sim.state.call_counts().values()) == 0
