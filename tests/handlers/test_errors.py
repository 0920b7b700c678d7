"""The one place an error becomes what the user sees: plain words, a reference when unexpected."""

from __future__ import annotations

import pytest

from bot.services.errors import NotAllowed
from bot.skyvia.errors import (
    SkyviaAuthError,
    SkyviaBadResponse,
    SkyviaError,
    SkyviaNotFound,
    SkyviaRateLimited,
)
from bot.slack.grammar.usage import UsageError
from bot.slack.messages.payloads import PayloadError
from handlers.errors import message_for
from tests.constants import ADMIN
from tests.e2e.backup_kit import START, skyvia_calls
from tests.e2e.bot_fixtures import Stack


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            SkyviaAuthError("403", workspace_id=123),
            "Skyvia rejected the access token of workspace 123",
        ),
        (
            SkyviaNotFound("404", workspace_id=123, backup_id=9),
            "Backup 9 was not found in workspace 123",
        ),
        (
            SkyviaNotFound("404", workspace_id=123, backup_id=9, snapshot_id=7),
            "Snapshot 7 of backup 9 was not found in workspace 123",
        ),
        (SkyviaNotFound("404", workspace_id=124), "Workspace 124 was not found in Skyvia"),
        (SkyviaRateLimited("429", workspace_id=123), "Skyvia is not answering right now"),
        (SkyviaBadResponse("junk", workspace_id=123), "an answer the bot could not read"),
        (SkyviaError("?", workspace_id=123), "Skyvia could not do that"),
        (NotAllowed("Only admins can connect a channel."), "Only admins can connect a channel."),
        (PayloadError("bad value"), "That button's data could not be read"),
    ],
)
def test_expected_errors_are_refusals_in_plain_words(error: Exception, expected: str) -> None:
    message, reference = message_for(error)
    assert expected in message.text
    assert reference is None


def test_usage_errors_say_how_to_use_the_command() -> None:
    error = UsageError("that is not a number", "/skyvia snapshots <backupId>")
    message, reference = message_for(error)
    assert reference is None and "that is not a number" in message.text


def test_an_unexpected_error_gets_a_reference_and_no_details() -> None:
    message, reference = message_for(KeyError("db password is hunter2"))
    assert reference is not None and reference in message.text
    assert "hunter2" not in message.text and "KeyError" not in message.text
    _, another = message_for(KeyError("again"))
    assert another != reference


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("403", "Skyvia rejected the access token of workspace 123"),
        ("404", "Backup 999999 was not found in workspace 123"),
        ("429", "Skyvia is not answering right now"),
        ("500", "Skyvia is not answering right now"),
    ],
)
async def test_skyvia_errors_become_plain_words(bound: Stack, fault: str, expected: str) -> None:
    stack = bound
    backup_id = 456
    if fault == "403":
        stack.sim.state.remove_token(stack.sim.token)  # the token was revoked in Skyvia
    elif fault == "404":
        backup_id = 999999
    else:
        stack.sim.state.inject_errors(int(fault), retry_after=0.01 if fault == "429" else None)
    for command in (f"backup {backup_id}", f"snapshot {backup_id}", f"schedule {backup_id} off"):
        body = await stack.reply_to(command, user=ADMIN)
        assert body["response_type"] == "ephemeral"
        assert expected in body["text"], (command, body["text"])
        assert "Traceback" not in body["text"] and "reference" not in body["text"]
    assert START not in skyvia_calls(stack) or fault != "404"
    posted = [
        c for c in stack.slack.calls_to("chat.postMessage") if "Snapshot of" in c.args["text"]
    ]
    assert posted == []
