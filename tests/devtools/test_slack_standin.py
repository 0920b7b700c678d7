"""The Slack stand-in checked against the real client: slack_sdk must get what Slack would send.

Every e2e test trusts this double; if it drifted from Slack's behaviour as slack_sdk sees it,
those tests would pass or fail for the wrong reason.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_standin import FakeSlack

TS_FORMAT = re.compile(r"^\d{10}\.\d{6}$")
# slack_sdk itself warns about a missing `text`; the tests that send none on purpose silence it.
sends_no_text = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")


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


async def test_reply_to_a_reply_is_warned_about(slack: FakeSlack, client: AsyncWebClient) -> None:
    """Slack has no thread inside a thread (issue 19 item 13): a reply goes in its parent's."""
    parent = (await client.chat_postMessage(channel="C1", text="alert"))["ts"]
    reply = (await client.chat_postMessage(channel="C1", text="card", thread_ts=parent))["ts"]
    await client.chat_postMessage(channel="C1", text="outcome", thread_ts=parent)
    assert slack.warnings == []
    await client.chat_postMessage(channel="C1", text="nested", thread_ts=reply)
    assert slack.warnings == [f"chat.postMessage: thread_ts {reply} is a reply in C1"]


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


# ----- OAuth: oauth.v2.access for installs and token rotation ----------------------------------


async def test_oauth_exchanges_a_code_once_for_a_bot_token_that_then_works(
    slack: FakeSlack,
) -> None:
    slack.oauth.configure("1.2", "app-secret")
    code = slack.oauth.approve("T0NEW", installer="U0INSTALLER")
    app = AsyncWebClient(base_url=slack.api_url, retry_handlers=[])

    answer = await app.oauth_v2_access(client_id="1.2", client_secret="app-secret", code=code)
    again = app.oauth_v2_access(client_id="1.2", client_secret="app-secret", code=code)
    wrong_secret = app.oauth_v2_access(client_id="1.2", client_secret="guess", code="code-9")
    installed = AsyncWebClient(token=answer["access_token"], base_url=slack.api_url)

    assert answer["team"] == {"id": "T0NEW", "name": "t0new"} and answer["token_type"] == "bot"
    assert answer["authed_user"] == {"id": "U0INSTALLER"} and "refresh_token" not in answer
    assert (await installed.auth_test())["team_id"] == "T0NEW"
    assert await error_of(again) == "invalid_code"
    assert await error_of(wrong_secret) == "bad_client_secret"
    assert all("app-secret" not in repr(c.args) for c in slack.calls)


async def test_oauth_rotation_issues_expiring_tokens_and_refreshes_them(slack: FakeSlack) -> None:
    slack.oauth.configure("1.2", "app-secret", token_rotation=True, expires_in=1)
    app = AsyncWebClient(base_url=slack.api_url, retry_handlers=[])
    code = slack.oauth.approve(
        None, installer="U0I", enterprise_id="E0ORG", is_enterprise_install=True
    )

    first = await app.oauth_v2_access(client_id="1.2", client_secret="app-secret", code=code)
    refreshed = await app.oauth_v2_access(
        client_id="1.2",
        client_secret="app-secret",
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
    )
    who = await AsyncWebClient(token=refreshed["access_token"], base_url=slack.api_url).auth_test()
    await asyncio.sleep(1.1)
    expired = AsyncWebClient(token=first["access_token"], base_url=slack.api_url, retry_handlers=[])

    assert first["is_enterprise_install"] is True and first["enterprise"]["id"] == "E0ORG"
    assert first["access_token"].startswith("xoxe.xoxb-") and first["expires_in"] == 1
    assert refreshed["access_token"] != first["access_token"]
    assert (who["enterprise_id"], who["is_enterprise_install"]) == ("E0ORG", True)
    assert await error_of(expired.auth_test()) == "token_expired"
