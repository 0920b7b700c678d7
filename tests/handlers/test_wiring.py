"""Every id the bot puts into Slack is answered: built on a real Bolt app, asked as Bolt routes.

The listeners are registered in one place (`handlers.wiring`) from the topics' tables; these
tests check the result from Slack's side, so a button whose topic forgot it, an action id two
topics claim, or a command type no topic answers fails here, not in a channel.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, get_args
from unittest.mock import MagicMock

import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.grammar.commands import Command
from bot.slack.messages.ids import ActionId, CallbackId
from handlers import register_all, wiring
from handlers.context import Services
from handlers.topics import takers
from tests.constants import CHANNEL, TEAM

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

MODAL_INPUTS = {ActionId.CONNECT_WORKSPACE_INPUT, ActionId.CONNECT_TOKEN_INPUT}
"""Inputs of the connect modal: read from its submission, never sent as actions on their own."""


@pytest.fixture(scope="module")
def app() -> AsyncApp:
    bolt = AsyncApp(token="xoxb-test", signing_secret="secret")
    register_all(bolt, Services(**{f.name: MagicMock() for f in fields(Services)}))
    return bolt


async def routed(app: AsyncApp, body: dict[str, Any]) -> int:
    """How many listeners Bolt would run for this request."""
    request = AsyncBoltRequest(body=body, mode="socket_mode")
    response = BoltResponse(status=404)
    listeners = app._async_listeners  # Bolt keeps them in registration order, one per call
    return sum([await listener.async_matches(req=request, resp=response) for listener in listeners])


def click(action_id: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM},
        "channel": {"id": CHANNEL},
        "actions": [{"action_id": action_id, "type": "button", "value": "{}"}],
    }


async def test_every_action_id_but_the_modal_inputs_has_one_listener(app: AsyncApp) -> None:
    answered = {member for member in ActionId if await routed(app, click(member)) == 1}
    assert answered == set(ActionId) - MODAL_INPUTS
    assert all([await routed(app, click(member)) == 0 for member in MODAL_INPUTS])
    assert await routed(app, click("no_such_button")) == 0


async def test_the_slash_command_and_every_modal_are_answered(app: AsyncApp) -> None:
    command = {"command": "/skyvia", "text": "help", "team_id": TEAM, "channel_id": CHANNEL}
    assert await routed(app, command) == 1
    for callback_id in CallbackId:
        view = {"type": "modal", "callback_id": str(callback_id)}
        submission = {"type": "view_submission", "view": view}
        assert await routed(app, submission) == 1, callback_id


async def test_every_event_the_manifest_subscribes_to_is_answered(app: AsyncApp) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    for kind in set(events) - {"function_executed"}:
        body = {"type": "event_callback", "team_id": TEAM, "event": {"type": kind}}
        assert await routed(app, body) == 1, kind
    for callback_id in manifest["functions"]:
        function = {"callback_id": callback_id}
        event = {"type": "function_executed", "function_execution_id": "Fx1", "function": function}
        body = {"type": "event_callback", "team_id": TEAM, "event": event}
        assert await routed(app, body) == 1, callback_id


def test_every_command_the_grammar_parses_has_a_handler() -> None:
    assert set(wiring.command_handlers()) == set(get_args(Command))


def test_an_id_declared_by_two_topics_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "TOPICS", (*wiring.TOPICS, takers.TOPIC))
    with pytest.raises(RuntimeError, match="take_alert"):
        wiring.button_handlers()
