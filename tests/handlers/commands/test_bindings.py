"""Issue 3 end to end: help, connect (default token and modal), status, disconnect, signatures.

Everything goes through the real Bolt app over HTTP; Slack is the fake on loopback and Skyvia
the simulator, so what is asserted is what Slack and Skyvia would have seen.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.devtools.slack_requests import Signing
from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from storage.db import Database
from storage.records import BindingRecord
from storage.repositories import AuditRepository, BindingRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, TEAM
from tests.e2e.backup_kit import GET_BACKUP, audit_actions
from tests.e2e.bot_fixtures import Stack, StartBot


async def binding_of(stack: Stack, channel: str = CHANNEL) -> BindingRecord | None:
    async with stack.bot.container.db.session() as session:
        return await BindingRepository(session).get(TEAM, channel)


def skyvia_calls(stack: Stack) -> int:
    return sum(stack.sim.state.call_counts().values())


async def test_help_lists_every_subcommand_only_to_the_user(stack: Stack) -> None:
    body = await stack.reply_to("help")
    assert body["response_type"] == "ephemeral"
    for word in ("connect", "disconnect", "status", "backups", "snapshots", "schedule", "alerts"):
        assert word in body["text"] or word in str(body["blocks"])
    assert stack.slack.calls_to("chat.postMessage") == []


async def test_connect_binds_the_channel_and_tells_it(stack: Stack) -> None:
    await stack.command("connect 123", user=ADMIN)
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL
    )
    text_ = posted[0].args["text"]
    assert "123" in text_ and f"<@{ADMIN}>" in text_ and "connected" in text_.lower()
    binding = await binding_of(stack)
    assert binding is not None
    assert (binding.workspace_id, binding.created_by) == (123, ADMIN)
    assert binding.token_ciphertext is None  # the default token: nothing to store
    assert binding.workspace_name == "Operations"
    # One cheap call checked the token.
    assert stack.sim.state.call_counts() == {"GET /workspaces/{workspaceId}": 1}

    status = await stack.reply_to("status")
    rendered = status["text"] + str(status["blocks"])
    assert "123" in rendered and f"<@{ADMIN}>" in rendered


async def test_a_member_cannot_connect_and_is_told_the_rule(stack: Stack) -> None:
    body = await stack.reply_to("connect 123", user=MEMBER)
    assert body["response_type"] == "ephemeral"
    assert "Only admins can connect a channel" in body["text"]
    assert await binding_of(stack) is None
    assert skyvia_calls(stack) == 0
    assert stack.slack.calls_to("chat.postMessage") == []


async def test_admin_listed_in_settings_may_connect(start_bot: StartBot) -> None:
    stack = await start_bot(SKYVIA_BOT_ADMINS=MEMBER)
    await stack.command("connect 123", user=MEMBER)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok)
    assert (await binding_of(stack)) is not None


async def test_unsigned_or_stale_requests_get_401_and_change_nothing(stack: Stack) -> None:
    for signing in (Signing.BAD, Signing.STALE, Signing.MISSING):
        response = await stack.send.slash_command(
            "connect 123", user_id=ADMIN, channel_id=CHANNEL, signing=signing
        )
        assert response.status_code == 401, signing
    await stack.bot.listeners.idle()  # anything that wrongly ran has finished by now
    assert await binding_of(stack) is None
    assert skyvia_calls(stack) == 0
    assert [c for c in stack.slack.calls if c.method != "auth.test"] == []


async def test_bad_input_gets_usage_and_makes_no_skyvia_call(stack: Stack) -> None:
    bad_id = await stack.reply_to("connect abc", user=ADMIN)
    assert bad_id["response_type"] == "ephemeral"
    assert "abc" in bad_id["text"] and "/skyvia connect" in str(bad_id)
    too_big = await stack.reply_to("connect 2147483648", user=ADMIN)
    assert "2147483648" in too_big["text"]
    unknown = await stack.reply_to("conect 123", user=ADMIN)
    assert "connect" in unknown["text"]  # "did you mean `connect`?"
    assert skyvia_calls(stack) == 0
    assert await binding_of(stack) is None


async def test_unbound_channel_is_told_how_to_connect(stack: Stack) -> None:
    body = await stack.reply_to("alerts mute 456")
    assert "/skyvia connect" in body["text"]
    assert skyvia_calls(stack) == 0


async def test_disconnect_removes_the_binding_and_tells_the_channel(stack: Stack) -> None:
    await stack.command("connect 123", user=ADMIN)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok)
    refused = await stack.reply_to("disconnect", user=MEMBER)
    assert "Only admins can disconnect" in refused["text"]
    assert await binding_of(stack) is not None

    await stack.command("disconnect", user=ADMIN)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok, count=2)
    assert await binding_of(stack) is None
    status = await stack.reply_to("status")
    assert "/skyvia connect" in status["text"] + str(status["blocks"])
    async with stack.bot.container.db.session() as session:
        actions = [e.action for e in await AuditRepository(session).recent(TEAM)]
    assert "connect" in actions and "disconnect" in actions


async def test_connect_without_default_token_opens_a_modal_and_stores_the_token_encrypted(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_API_TOKEN=None)
    secret_token = "sk-own-token-" + "x" * 24
    stack.sim.state.add_token(secret_token, [123])
    await stack.command("connect 123", user=ADMIN)
    opened = await stack.slack.wait_for("views.open")
    view = opened[0].args["view"]
    assert view["callback_id"] == CallbackId.CONNECT_MODAL
    assert skyvia_calls(stack) == 0

    # A bad workspace id is answered in the modal itself.
    bad = await stack.send.view_submission(
        CallbackId.CONNECT_MODAL,
        {
            BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "twelve"},
            BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: secret_token},
        },
        user_id=ADMIN,
        private_metadata=view["private_metadata"],
    )
    assert bad.json()["response_action"] == "errors"
    assert BlockId.CONNECT_WORKSPACE in bad.json()["errors"]

    ok = await stack.send.view_submission(
        CallbackId.CONNECT_MODAL,
        {
            BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "123"},
            BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: secret_token},
        },
        user_id=ADMIN,
        private_metadata=view["private_metadata"],
    )
    assert ok.status_code == 200
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL
    )
    binding = await binding_of(stack)
    assert binding is not None and binding.token_ciphertext
    assert secret_token not in binding.token_ciphertext
    assert stack.bot.container.cipher.decrypt(binding.token_ciphertext) == secret_token
    await assert_token_not_stored_in_clear(stack.bot.container.db, secret_token)
    # Nothing the bot sent to Slack carries the token.
    assert all(secret_token not in str(c.args) for c in stack.slack.calls)


async def assert_token_not_stored_in_clear(db: Database, token: str) -> None:
    """Reads the raw database: the SQLite file's bytes, or every text column on PostgreSQL."""
    if db.is_sqlite:
        path = db.engine.url.database
        assert path
        # The main file and its write-ahead log: a committed row may still be only in the WAL.
        files = [Path(path), Path(path + "-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert b"workspace" in raw or len(raw) > 4096  # we did read the database
        assert token.encode() not in raw
    else:
        async with db.session() as session:
            dump = await session.execute(text("SELECT CAST(bindings AS text) FROM bindings"))
            assert all(token not in row[0] for row in dump)


async def test_a_rejected_token_is_refused_with_a_clear_message(start_bot: StartBot) -> None:
    stack = await start_bot(SKYVIA_API_TOKEN=None)
    await stack.command("connect 123", user=ADMIN)
    view = (await stack.slack.wait_for("views.open"))[0].args["view"]
    answer = await stack.send.view_submission(
        CallbackId.CONNECT_MODAL,
        {
            BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "123"},
            BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: "not-a-valid-token"},
        },
        user_id=ADMIN,
        private_metadata=view["private_metadata"],
    )
    # The form stays open with the refusal on the token field (issue 19 item 12).
    assert answer.json()["response_action"] == "errors"
    assert "rejected the access token" in answer.json()["errors"][BlockId.CONNECT_TOKEN]
    assert await binding_of(stack) is None


def channel_posts(stack: Stack, words: str) -> list[str]:
    return [
        c.args["text"]
        for c in stack.slack.calls_to("chat.postMessage")
        if c.ok and words in c.args["text"]
    ]


async def test_muting_twice_tells_the_channel_once_and_the_user_the_second_time(
    bound: Stack,
) -> None:
    stack = bound
    first_id = await stack.command("alerts mute 456")
    told = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    assert told[0].args["channel"] == CHANNEL and f"<@{MEMBER}>" in told[0].args["text"]

    again = await stack.reply_to("alerts mute 456")
    assert again["response_type"] == "ephemeral"
    assert "already muted" in again["text"] and "456" in again["text"]
    # The repeat answered the user only, and asked Skyvia nothing.
    assert len(channel_posts(stack, "muted failure alerts")) == 1
    assert stack.slack.responses(first_id) == []
    assert stack.sim.state.call_counts() == {GET_BACKUP: 1}
    actions = await audit_actions(stack)
    assert ("mute", MEMBER, "ok", "backup 456") in actions
    assert ("mute", MEMBER, "unchanged", "backup 456") in actions


async def test_unmuting_what_is_not_muted_answers_the_user_only(bound: Stack) -> None:
    stack = bound
    answer = await stack.reply_to("alerts unmute 456")
    assert answer["response_type"] == "ephemeral"
    assert "already not muted" in answer["text"]
    assert channel_posts(stack, "muted failure alerts") == []
    assert skyvia_calls(stack) == 0
    assert ("unmute", MEMBER, "unchanged", "backup 456") in await audit_actions(stack)
