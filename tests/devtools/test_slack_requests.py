"""The signed request sender checked against Bolt: what it sends, Bolt must parse and verify.

Every e2e test drives the bot through this sender; if it drifted from what Slack sends, those
tests would pass or fail for the wrong reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from bot.devtools.slack_requests import Signing, SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from tests.constants import TEAM

SIGNING_SECRET = "selftest-signing-secret"

# ----- the signed request sender ---------------------------------------------------------------


class CapturedRequests:
    """An httpx transport that keeps what the sender posted, for checks below Bolt's level."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200)


async def sent_by(signing: Signing) -> httpx.Request:
    captured = CapturedRequests()
    async with httpx.AsyncClient(transport=httpx.MockTransport(captured)) as http:
        sender = SlackRequestSender("http://bot.test", SIGNING_SECRET, http=http)
        await sender.slash_command("status", user_id="U1", channel_id="C1", signing=signing)
    return captured.requests[0]


def signature_is_valid(request: httpx.Request) -> bool:
    return SignatureVerifier(SIGNING_SECRET).is_valid(
        body=request.content.decode(),
        timestamp=request.headers.get("X-Slack-Request-Timestamp"),
        signature=request.headers.get("X-Slack-Signature"),
    )


async def test_sender_signatures_verify_only_when_valid() -> None:
    valid = await sent_by(Signing.VALID)
    assert str(valid.url) == "http://bot.test/slack/events"
    assert signature_is_valid(valid)
    assert not signature_is_valid(await sent_by(Signing.BAD))
    assert not signature_is_valid(await sent_by(Signing.STALE))
    missing = await sent_by(Signing.MISSING)
    assert "X-Slack-Signature" not in missing.headers
    assert "X-Slack-Request-Timestamp" not in missing.headers


class BoltProbe:
    """A minimal Bolt app that keeps what its listeners received from the sender."""

    def __init__(self, slack: FakeSlack) -> None:
        self.seen: dict[str, dict[str, Any]] = {}
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        self.app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)
        self.app.command("/skyvia")(self.on_command)
        self.app.action("run_snapshot")(self.on_action)
        self.app.view("connect")(self.on_view)
        self.app.event("app_home_opened")(self.on_home)

    async def on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        self.seen["command"] = command
        await ack()
        await respond(text=f"you said {command['text']}")

    async def on_action(self, ack: Any, body: dict[str, Any]) -> None:
        self.seen["action"] = body
        await ack()

    async def on_view(self, ack: Any, view: dict[str, Any]) -> None:
        self.seen["view"] = view
        await ack(response_action="errors", errors={"token": "Skyvia rejected it"})

    async def on_home(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        self.seen["home"] = event
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    def starlette(self) -> Starlette:
        handler = AsyncSlackRequestHandler(self.app)

        async def events(request: Request) -> Any:
            return await handler.handle(request)

        return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@pytest.fixture
async def bolt(slack: FakeSlack) -> AsyncIterator[tuple[BoltProbe, SlackRequestSender]]:
    # The bot side runs in-process (ASGI transport); the fake it calls is real HTTP.
    probe = BoltProbe(slack)
    transport = httpx.ASGITransport(app=probe.starlette())
    async with httpx.AsyncClient(transport=transport) as http:
        sender = SlackRequestSender(
            "http://bot.test", SIGNING_SECRET, http=http, response_url_for=slack.response_url
        )
        yield probe, sender


async def test_bolt_accepts_a_slash_command_and_respond_reaches_the_fake(
    slack: FakeSlack, bolt: tuple[BoltProbe, SlackRequestSender]
) -> None:
    probe, sender = bolt
    answer = await sender.slash_command("snapshot 456", user_id="U1", channel_id="C1")

    assert answer.status_code == 200
    command = probe.seen["command"]
    assert (command["text"], command["user_id"], command["channel_id"]) == (
        "snapshot 456",
        "U1",
        "C1",
    )
    assert command["team_id"] == TEAM and command["trigger_id"]
    assert sender.last_response_id is not None
    posts = await slack.wait_for_responses(sender.last_response_id)
    assert posts[0].body["text"] == "you said snapshot 456"
    assert slack.calls_to("auth.test")  # Bolt authorised the request against the fake


async def test_bolt_routes_a_button_click_with_its_message(
    slack: FakeSlack, client: AsyncWebClient, bolt: tuple[BoltProbe, SlackRequestSender]
) -> None:
    probe, sender = bolt
    button = ButtonElement(text="Run snapshot", action_id="run_snapshot", value="456")
    blocks = [
        SectionBlock(text="card").to_dict(),
        ActionsBlock(block_id="actions", elements=[button]).to_dict(),
    ]
    posted = await client.chat_postMessage(channel="C1", text="card", blocks=blocks)

    answer = await sender.block_action(
        "run_snapshot", "456", user_id="U1", channel_id="C1", message=posted["message"]
    )

    assert answer.status_code == 200
    body = probe.seen["action"]
    assert body["actions"][0]["value"] == "456"
    assert body["actions"][0]["block_id"] == "actions"
    assert body["actions"][0]["text"]["text"] == "Run snapshot"
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert body["channel"]["id"] == "C1" and body["user"]["id"] == "U1"
    assert body["message"]["ts"] == posted["ts"]


async def test_bolt_reads_view_submission_values_and_returns_errors(
    bolt: tuple[BoltProbe, SlackRequestSender],
) -> None:
    probe, sender = bolt
    answer = await sender.view_submission(
        "connect",
        {"workspace": {"workspace_id": "123"}, "token": {"token": "secret"}},
        user_id="U1",
        private_metadata='{"channel_id": "C1"}',
    )

    assert answer.json() == {"response_action": "errors", "errors": {"token": "Skyvia rejected it"}}
    view = probe.seen["view"]
    assert view["state"]["values"]["workspace"]["workspace_id"]["value"] == "123"
    assert view["private_metadata"] == '{"channel_id": "C1"}'


async def test_bolt_handles_events_retries_and_url_verification(
    slack: FakeSlack, bolt: tuple[BoltProbe, SlackRequestSender]
) -> None:
    probe, sender = bolt
    assert (await sender.app_home_opened("U1")).status_code == 200
    await slack.wait_for("views.publish", lambda c: c.args["user_id"] == "U1")
    assert probe.seen["home"]["tab"] == "home"

    retried = await sender.event(
        {"type": "app_home_opened", "user": "U2", "channel": "DU2", "tab": "home"},
        event_id="Ev0RETRY",
        retry_num=1,
        retry_reason="http_timeout",
    )
    assert retried.status_code == 200
    challenge = await sender.url_verification("abc123")
    assert challenge.json() == {"challenge": "abc123"}


@pytest.mark.parametrize("signing", [Signing.BAD, Signing.STALE, Signing.MISSING])
async def test_bolt_refuses_unsigned_requests(
    bolt: tuple[BoltProbe, SlackRequestSender], signing: Signing
) -> None:
    probe, sender = bolt
    command = await sender.slash_command("status", user_id="U1", channel_id="C1", signing=signing)
    click = await sender.block_action(
        "run_snapshot", "456", user_id="U1", channel_id="C1", message_ts="1.1", signing=signing
    )
    event = await sender.app_home_opened("U1", signing=signing)

    assert [command.status_code, click.status_code, event.status_code] == [401, 401, 401]
    assert probe.seen == {}
