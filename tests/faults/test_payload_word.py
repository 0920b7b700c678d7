"""A request that merely contains the word "payload" is served like any other.

Bolt's body parser (slack_bolt `request/internals.py` `parse_body`) takes any form body in which
the text `payload` occurs for an interactive payload, finds no `payload` field and hands the
listeners an empty body: the command is dropped with a 404 and the user sees nothing. The bot
parses forms itself (a real interactive request has one field named `payload`), so the word in
the command's text, the channel's name, the user's name or the team's domain changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.constants import BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import choose_and_reply, connect, rendered
from tests.e2e.bot_fixtures import Stack


async def _answer(stack: Stack, text: str, **fields: str) -> dict[str, Any]:
    response = await stack.send.slash_command(text, user_id=MEMBER, channel_id=CHANNEL, **fields)
    assert response.status_code == 200, response.text
    assert stack.send.last_response_id is not None
    posts = await stack.slack.wait_for_responses(stack.send.last_response_id, count=1)
    return posts[0].body


async def test_a_backup_filter_naming_payload_is_answered(stack: Stack) -> None:
    stack.sim.state.backups[BACKUP].name = "Payload export"
    await connect(stack)

    answer = await _answer(stack, "backups payload")

    assert "Payload export" in rendered(answer)


@pytest.mark.parametrize(
    "fields",
    [
        {"channel_name": "payload-team"},
        {"user_name": "payload.dana"},
    ],
    ids=["channel name", "user name"],
)
async def test_status_is_answered_whatever_the_names_around_it(
    stack: Stack, fields: dict[str, str]
) -> None:
    await connect(stack)

    answer = await _answer(stack, "status", **fields)

    assert "123" in rendered(answer)


async def test_a_team_domain_with_payload_in_it_changes_nothing(stack: Stack) -> None:
    stack.send.team_domain = "payload-co"
    await connect(stack)

    answer = await _answer(stack, "backups")
    assert "Nightly CRM" in rendered(answer)

    # And a click from that team (an interactive request, one `payload` field) still acts.
    details = await choose_and_reply(stack, answer, 0, "Details")
    assert "Nightly CRM" in rendered(details)
