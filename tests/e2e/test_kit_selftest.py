"""The e2e kit checked against the real clients: slack_sdk for the fake, Bolt for the sender.

Every later e2e test trusts these doubles; if the fake drifted from what slack_sdk sends, or the
sender from what Bolt parses, those tests would pass or fail for the wrong reason.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.e2e.fake_slack import FakeSlack, running_fake_slack
from tests.e2e.slack_requests import Signing, SlackRequestSender

SIGNING_SECRET = "selftest-signing-secret"
TS_FORMAT = re.compile(r"^\d{10}\.\d{6}$")
# slack_sdk itself warns about a missing `text`; the tests that send none on purpose silence it.
sends_no_text = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    # No retry handlers: a 429 must surface here unless a test asks for retries.
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


def section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    return SectionBlock(text=text, block_id=block_id).to_dict()


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


# ----- the fake Web API ------------------------------------------------------------------------


async def test_auth_test_names_the_bot_and_rejects_unknown_tokens(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    answer = await client.auth_test()
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == ("T0TEST", "U0BOT", "B0BOT")
    assert answer["url"].startswith("https://")

    stranger = AsyncWebClient(token="xoxb-stolen", base_url=slack.api_url, retry_handlers=[])
    assert await error_of(stranger.auth_test()) == "invalid_auth"
    assert "xoxb-stolen" not in repr(slack.calls[-1]) + slack.summary()


async def test_post_message_records_json_blocks_with_increasing_ts(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C1", text="one", blocks=[section("*one*")])
    second = await client.chat_postMessage(channel="C1", text="two")

    assert TS_FORMAT.match(first["ts"]) and TS_FORMAT.match(second["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["channel"] == "C1" and first["message"]["text"] == "one"
    assert [m.text for m in slack.messages("C1")] == ["one", "two"]
    assert slack.calls_to("chat.postMessage")[0].args["blocks"][0]["type"] == "section"
    assert slack.message("C1", first["ts"]).blocks == [section("*one*")]
    assert slack.warnings == []


async def test_form_encoded_body_with_json_encoded_blocks_is_decoded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "text": "form", "blocks": json.dumps([section("hi")])},
    )
    assert slack.messages("C1")[0].blocks == [section("hi")]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, "no_text"),
        ({"text": "x", "blocks": [section(f"b{i}") for i in range(51)]}, "invalid_blocks"),
        ({"text": "x", "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        (
            {
                "text": "x",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}],
            },
            "invalid_blocks",
        ),
    ],
    ids=["no-text", "51-blocks", "unknown-block", "section-over-3000"],
)
@sends_no_text
async def test_post_message_is_validated_like_slack(
    slack: FakeSlack, client: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    assert await error_of(client.chat_postMessage(channel="C1", **kwargs)) == error
    assert slack.messages() == []


@sends_no_text
async def test_blocks_without_text_fallback_are_warned_about(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C1", blocks=[section("no fallback")])
    assert slack.warnings == ["chat.postMessage: blocks without a text fallback"]


async def test_threads_history_and_replies(slack: FakeSlack, client: AsyncWebClient) -> None:
    parent = (await client.chat_postMessage(channel="C1", text="card"))["ts"]
    quiet = await client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)
    loud = await client.chat_postMessage(
        channel="C1",
        text="failed",
        thread_ts=parent,
        reply_broadcast=True,
        metadata={"event_type": "snapshot_done", "event_payload": {"snapshot_id": 7}},
    )
    later = (await client.chat_postMessage(channel="C1", text="later"))["ts"]

    history = await client.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["later", "failed", "card"]
    assert history["messages"][1]["subtype"] == "thread_broadcast"
    assert "metadata" not in history["messages"][1]
    card = history["messages"][2]
    assert (card["reply_count"], card["latest_reply"]) == (2, loud["ts"])

    with_metadata = await client.conversations_history(channel="C1", include_all_metadata=True)
    assert with_metadata["messages"][1]["metadata"]["event_payload"] == {"snapshot_id": 7}

    newer = await client.conversations_history(channel="C1", oldest=parent, limit=1)
    assert [m["text"] for m in newer["messages"]] == ["later"] and newer["has_more"] is True
    assert [
        m["ts"]
        for m in (await client.conversations_history(channel="C1", oldest=later))["messages"]
    ] == []

    replies = await client.conversations_replies(channel="C1", ts=quiet["ts"])
    assert [m["text"] for m in replies["messages"]] == ["card", "reply", "failed"]
    assert [m.text for m in slack.thread("C1", parent)] == ["reply", "failed"]
    assert await error_of(client.conversations_replies(channel="C1", ts="1.000001")) == (
        "thread_not_found"
    )
    assert slack.warnings == []


async def test_reply_to_an_unknown_thread_is_warned_about(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C1", text="lost", thread_ts="1700000000.000100")
    assert slack.warnings == ["chat.postMessage: thread_ts 1700000000.000100 unknown in C1"]


async def test_chat_update_edits_in_place(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="queued"))["ts"]
    updated = await client.chat_update(channel="C1", ts=ts, text="running", blocks=[section("r")])

    assert updated["message"]["text"] == "running"
    assert [m.text for m in slack.messages()] == ["running"]
    assert slack.message("C1", ts).edits == 1
    assert await error_of(client.chat_update(channel="C1", ts="1.000001", text="x")) == (
        "message_not_found"
    )


async def test_post_ephemeral_is_kept_apart_from_channel_history(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    answer = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert TS_FORMAT.match(answer["message_ts"])
    assert [(e.user, e.text) for e in slack.ephemerals("C1")] == [("U1", "only you")]
    assert slack.messages() == []


async def test_users_usergroups_and_channels(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U_ADMIN", is_admin=True)
    slack.add_user("U_OWNER", is_owner=True)
    slack.add_user("U_PLAIN")
    slack.add_usergroup("S_OPS", ["U_PLAIN"])
    slack.add_channel("C_OLD", is_archived=True)
    slack.add_channel("G_SECRET", is_private=True, is_member=False)

    admin = (await client.users_info(user="U_ADMIN"))["user"]
    owner = (await client.users_info(user="U_OWNER"))["user"]
    plain = (await client.users_info(user="U_PLAIN"))["user"]
    assert (admin["is_admin"], owner["is_owner"], plain["is_admin"]) == (True, True, False)
    assert await error_of(client.users_info(user="U_NOBODY")) == "user_not_found"
    assert (await client.usergroups_users_list(usergroup="S_OPS"))["users"] == ["U_PLAIN"]
    assert await error_of(client.usergroups_users_list(usergroup="S_NONE")) == "no_such_subteam"
    assert (await client.conversations_info(channel="C_OLD"))["channel"]["is_archived"] is True
    assert await error_of(client.conversations_info(channel="G_SECRET")) == "channel_not_found"


async def test_channel_rules_for_posting(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_channel("C_OLD", is_archived=True)
    slack.add_channel("G_SECRET", is_private=True, is_member=False)
    slack.add_channel("C_PUBLIC", is_member=False)

    assert await error_of(client.chat_postMessage(channel="C_OLD", text="x")) == "is_archived"
    assert await error_of(client.chat_postMessage(channel="G_SECRET", text="x")) == (
        "channel_not_found"
    )
    # chat:write.public: a public channel the bot is not in still takes the post.
    await client.chat_postMessage(channel="C_PUBLIC", text="x")
    await client.conversations_join(channel="C_PUBLIC")
    assert slack.channel("C_PUBLIC").is_member is True

    slack.fail_channel("C_GONE", "channel_not_found")
    assert await error_of(client.chat_postMessage(channel="C_GONE", text="x")) == (
        "channel_not_found"
    )
    assert await error_of(client.chat_update(channel="C_GONE", ts="1.1", text="x")) == (
        "channel_not_found"
    )
    await client.chat_postMessage(channel="C_OTHER", text="unaffected")
    slack.heal_channel("C_GONE")
    await client.chat_postMessage(channel="C_GONE", text="back")


async def test_rate_limit_answers_429_with_retry_after(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C1", text="fault was used up")


async def test_slack_sdk_retry_handlers_get_through_429_and_500(slack: FakeSlack) -> None:
    retrying = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(
                max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            ),
        ],
    )
    slack.fail_next("chat.postMessage", retry_after=1)
    slack.fail_next("auth.test", error="internal_error", status=500)

    assert (await retrying.chat_postMessage(channel="C1", text="after 429"))["ok"] is True
    assert (await retrying.auth_test())["ok"] is True
    assert [(c.method, c.status) for c in slack.calls] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
        ("auth.test", 500),
        ("auth.test", 200),
    ]
    assert [m.text for m in slack.messages()] == ["after 429"]


async def test_views_open_update_and_publish(slack: FakeSlack, client: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "connect",
        "title": {"type": "plain_text", "text": "Connect"},
        "blocks": [section("Workspace")],
    }
    opened = (await client.views_open(trigger_id="1.2.abc", view=modal))["view"]
    await client.views_update(view_id=opened["id"], view={**modal, "blocks": [section("Token")]})
    assert slack.view(opened["id"])["blocks"] == [section("Token")]
    assert await error_of(client.views_open(trigger_id="", view=modal)) == "invalid_trigger_id"
    assert await error_of(client.views_update(view_id="V404", view=modal)) == "not_found"
    too_long = {**modal, "blocks": [section(str(i)) for i in range(101)]}
    assert await error_of(client.views_open(trigger_id="1", view=too_long)) == ("invalid_arguments")

    home = {"type": "home", "blocks": [section("Bound channels")]}
    await client.views_publish(user_id="U1", view=home)
    assert slack.home_view("U1")["blocks"] == [section("Bound channels")]  # type: ignore[index]
    assert [v["callback_id"] for v in slack.opened_views()] == ["connect"]


async def test_unknown_methods_are_recorded_and_refused(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    assert await error_of(client.api_call("pins.add", json={"channel": "C1"})) == "unknown_method"
    assert [(c.method, c.error) for c in slack.calls] == [("pins.add", "unknown_method")]


async def test_wait_for_polls_and_reports_what_it_saw(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.1)
        await client.chat_postMessage(channel="C2", text="late")

    task = asyncio.create_task(post_later())
    await client.chat_postMessage(channel="C1", text="early")
    found = await slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C2")
    await task
    assert [c.args["text"] for c in found] == ["late"]

    with pytest.raises(AssertionError, match=r"(?s)got 0.*chat\.postMessage -> ok channel=C1"):
        await slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C9", timeout=0.2)


async def test_latency_delays_answers(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.set_latency(0.2)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.2


async def test_response_url_takes_five_posts_then_refuses(slack: FakeSlack) -> None:
    url = slack.response_url("r1")
    async with httpx.AsyncClient() as http:
        answers = [
            await http.post(url, json={"text": f"n{i}", "replace_original": True}) for i in range(6)
        ]
        slack.expire_response_url("r2")
        expired = await http.post(slack.response_url("r2"), json={"text": "late"})

    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[0].json() == {"ok": True}
    assert answers[5].json()["error"] == "used_url"
    assert [r.body["text"] for r in slack.responses("r1")] == [f"n{i}" for i in range(5)]
    assert len(slack.responses("r1", include_rejected=True)) == 6
    assert (expired.status_code, expired.json()["error"]) == (404, "expired_url")


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
    assert command["team_id"] == "T0TEST" and command["trigger_id"]
    assert sender.last_response_id is not None
    posts = await slack.wait_for_responses(sender.last_response_id)
    assert posts[0].body["text"] == "you said snapshot 456"
    assert slack.calls_to("auth.test")  # Bolt authorised the request against the fake


async def test_bolt_routes_a_button_click_with_its_message(
    slack: FakeSlack, client: AsyncWebClient, bolt: tuple[BoltProbe, SlackRequestSender]
) -> None:
    probe, sender = bolt
    button = ButtonElement(text="Run snapshot", action_id="run_snapshot", value="456")
    blocks = [section("card"), ActionsBlock(block_id="actions", elements=[button]).to_dict()]
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
