"""Two Slack teams on one OAuth deployment, kept apart, through the real app and workers.

Team A (`TEAM`) is the operator's own and listed in SKYVIA_BOT_DEFAULT_TOKEN_TEAMS; team B is
a stranger's. Both bind Skyvia workspace 123, A with the default token, B with its own. Their
installations are saved in the bot's own (encrypted) store as the OAuth flow would save them;
every call to Slack must use the team's own bot token.
"""

from __future__ import annotations

import time

from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.devtools.waiting import wait_until
from bot.slack.messages.bindings import OWN_TOKEN_NOTE
from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from storage.repositories import BindingRepository
from tests.constants import ADMIN, BACKUP, CHANNEL, TEAM
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.bot_runner import SIGNING_SECRET
from tests.e2e.worker_kit import alerts_in, cursors_ready

CLIENT_ID = "1111.2222"
TEAM_B = "T0STRANGER"
ADMIN_B = "U0BADMIN"
CHANNEL_B = "C0THEIRS"
BOT_TOKEN_B = "xoxb-team-b-bot-token"
SKYVIA_TOKEN_B = "sk-team-b-own-token-0123456789"


def installation(team_id: str, bot_token: str, bot_user_id: str) -> Installation:
    return Installation(
        app_id="A0TEST",
        team_id=team_id,
        bot_token=bot_token,
        bot_id=f"B{team_id}",
        bot_user_id=bot_user_id,
        bot_scopes="commands,chat:write",
        user_id=ADMIN,
        installed_at=time.time(),
    )


async def oauth_stack(
    start_bot: StartBot, fake_slack: FakeSlack
) -> tuple[Stack, SlackRequestSender]:
    stack = await start_bot(
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET="oauth-client-secret",
        SKYVIA_BOT_DEFAULT_TOKEN_TEAMS=TEAM,
    )
    store = stack.bot.container.slack.installation_store  # the bot's own: tokens encrypted
    assert store is not None
    await store.async_save(installation(TEAM, fake_slack.bot_token, fake_slack.bot_user_id))
    fake_slack.add_token(BOT_TOKEN_B, team_id=TEAM_B, user_id="U0BOTB", bot_id="B0BOTB")
    await store.async_save(installation(TEAM_B, BOT_TOKEN_B, "U0BOTB"))
    fake_slack.add_user(ADMIN_B, name="bea", is_admin=True, team_id=TEAM_B)
    sender_b = SlackRequestSender(
        stack.bot.url,
        SIGNING_SECRET,
        team_id=TEAM_B,
        team_domain="strangers",
        api_app_id=fake_slack.app_id,
        bot_user_id="U0BOTB",
        response_url_for=fake_slack.response_url,
    )
    return stack, sender_b


async def connect_b_with_its_own_token(stack: Stack, sender_b: SlackRequestSender) -> None:
    """`connect 123` in team B: the default token is refused, the modal says why."""
    stack.sim.state.add_token(SKYVIA_TOKEN_B, [123])
    response = await sender_b.slash_command("connect 123", user_id=ADMIN_B, channel_id=CHANNEL_B)
    assert response.status_code == 200
    opened = await stack.slack.wait_for("views.open")
    view = opened[-1].args["view"]
    assert opened[-1].token == BOT_TOKEN_B
    assert OWN_TOKEN_NOTE in str(view["blocks"])
    async with stack.bot.container.db.session() as session:
        assert await BindingRepository(session).get(TEAM_B, CHANNEL_B) is None

    empty = await sender_b.view_submission(
        CallbackId.CONNECT_MODAL,
        {
            BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "123"},
            BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: ""},
        },
        user_id=ADMIN_B,
        private_metadata=view["private_metadata"],
    )
    assert empty.json()["response_action"] == "errors"  # no token: refused in the form
    ok = await sender_b.view_submission(
        CallbackId.CONNECT_MODAL,
        {
            BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "123"},
            BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: SKYVIA_TOKEN_B},
        },
        user_id=ADMIN_B,
        private_metadata=view["private_metadata"],
    )
    assert ok.status_code == 200
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL_B
    )


async def test_two_teams_on_one_workspace_id_stay_apart_and_an_uninstall_silences_one(
    start_bot: StartBot, fake_slack: FakeSlack
) -> None:
    stack, sender_b = await oauth_stack(start_bot, fake_slack)
    try:
        await stack.command("connect 123", user=ADMIN)
        await stack.slack.wait_for(
            "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL
        )
        await connect_b_with_its_own_token(stack, sender_b)

        # Team B mutes backup 456: only its own binding changes.
        await sender_b.slash_command(f"alerts mute {BACKUP}", user_id=ADMIN_B, channel_id=CHANNEL_B)
        await stack.slack.wait_for(
            "chat.postMessage",
            lambda c: c.ok and c.args.get("channel") == CHANNEL_B and "muted" in c.args["text"],
        )
        async with stack.bot.container.db.session() as session:
            repo = BindingRepository(session)
            a, b = await repo.get(TEAM, CHANNEL), await repo.get(TEAM_B, CHANNEL_B)
            assert a is not None and b is not None
            assert await repo.muted_backup_ids(a.id) == set()
            assert await repo.muted_backup_ids(b.id) == {BACKUP}
            assert (
                await repo.get(TEAM_B, CHANNEL) is None and await repo.get(TEAM, CHANNEL_B) is None
            )
        status_b = await sender_b.slash_command("status", user_id=ADMIN_B, channel_id=CHANNEL)
        assert status_b.status_code == 200 and sender_b.last_response_id
        answer = await stack.slack.wait_for_responses(sender_b.last_response_id, count=1)
        assert "not connected" in answer[0].body["text"]  # A's channel id is not B's binding
        await cursors_ready(stack.bot.container.db)

        # A failure of another backup alerts both, each with its own team's bot token.
        failed = stack.sim.state.run_scheduled_now(BACKUP + 1, fail=True, log="boom")
        await wait_until(
            lambda: all(alerts_in(stack.slack, c, failed.id) for c in (CHANNEL, CHANNEL_B)),
            what="an alert in each team's channel",
        )
        tokens = {
            c.args["channel"]: c.token
            for c in stack.slack.calls_to("chat.postMessage")
            if c.ok and str(failed.id) in str(c.args.get("metadata"))
        }
        assert tokens == {CHANNEL: fake_slack.bot_token, CHANNEL_B: BOT_TOKEN_B}
        # B's mute holds for B only: a failure of 456 reaches A alone.
        muted = stack.sim.state.run_scheduled_now(BACKUP, fail=True, log="boom")
        await wait_until(lambda: alerts_in(stack.slack, CHANNEL, muted.id), what="A's alert")
        await stack.bot.after_ticks(3)
        assert alerts_in(stack.slack, CHANNEL_B, muted.id) == []

        # Team B uninstalls: its installation is gone, its binding paused; A goes on.
        await sender_b.event({"type": "app_uninstalled"})
        store = stack.bot.container.slack.installation_store
        assert store is not None

        async def b_gone() -> bool:
            bot = await store.async_find_bot(enterprise_id=None, team_id=TEAM_B)
            async with stack.bot.container.db.session() as session:
                binding = await BindingRepository(session).get(TEAM_B, CHANNEL_B)
            return bot is None and binding is not None and binding.paused_reason is not None

        await wait_until(b_gone, what="team B uninstalled")
        assert await store.async_find_bot(enterprise_id=None, team_id=TEAM) is not None
        calls_before = len(stack.slack.calls)
        later = stack.sim.state.run_scheduled_now(BACKUP + 2, fail=True, log="boom")
        await wait_until(lambda: alerts_in(stack.slack, CHANNEL, later.id), what="A's alert")
        await stack.bot.after_ticks(3)
        assert alerts_in(stack.slack, CHANNEL_B, later.id) == []
        assert all(c.token != BOT_TOKEN_B for c in stack.slack.calls[calls_before:])
    finally:
        await sender_b.aclose()
