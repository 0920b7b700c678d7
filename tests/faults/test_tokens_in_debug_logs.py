"""At LOG_LEVEL=DEBUG, a Skyvia token typed into the connect modal never reaches the logs.

At DEBUG, slack_sdk logs every Socket Mode envelope and every Web API call, Bolt logs payloads,
and the Skyvia client's requests carry the token: the root handler's filter must mask the
modal's input values and every per-binding token the bot has used. Checked on a real child
process, whose whole stdout and stderr are read, in both serving modes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.devtools.child_process import ChildProcess
from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.devtools.socket_mode_standin import running_socket_mode
from bot.simulator import RunningSimulator
from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from tests.constants import ADMIN, CHANNEL, WORKSPACE
from tests.e2e.bot_runner import SIGNING_SECRET, bot_env, bot_process

APP_TOKEN = "xapp-1-A0TEST-debug-logs-token"


def _own_token() -> str:
    return f"sk-debug-{secrets.token_hex(12)}"


def _modal_values(token: str) -> dict[str, dict[str, Any]]:
    return {
        BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: str(WORKSPACE)},
        BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: token},
    }


def _env(fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str) -> dict[str, str]:
    env = bot_env(
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        LOG_LEVEL="DEBUG",
    )
    env.pop("SKYVIA_API_TOKEN", None)  # no default token: connecting asks for one in a modal
    return env


async def _connected_and_used(fake_slack: FakeSlack) -> None:
    """Waits for the connect confirmation in the channel."""
    await fake_slack.wait_for(
        "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL
    )


def _assert_clean(process: ChildProcess, token: str) -> None:
    assert process.log_path is not None
    log = process.log_path.read_text(errors="replace")
    assert " DEBUG " in log, "the bot did not log at DEBUG"
    assert token not in log
    assert token[len("sk-debug-") :] not in log


async def test_http_mode_at_debug_never_logs_a_modal_token(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    slack_sender_factory: Callable[[str, str], SlackRequestSender],
    tmp_path: Path,
) -> None:
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    token = _own_token()
    simulator.state.add_token(token, [WORKSPACE])
    process = bot_process(_env(fake_slack, simulator, database_url))
    try:
        await process.start(tmp_path / "bot.log")
        send = slack_sender_factory(process.url, SIGNING_SECRET)
        await send.slash_command(f"connect {WORKSPACE}", user_id=ADMIN, channel_id=CHANNEL)
        view = (await fake_slack.wait_for("views.open"))[0].args["view"]
        answer = await send.view_submission(
            CallbackId.CONNECT_MODAL,
            _modal_values(token),
            user_id=ADMIN,
            private_metadata=view["private_metadata"],
        )
        assert answer.status_code == 200
        await _connected_and_used(fake_slack)
        # A command that calls Skyvia with the binding's own (decrypted) token.
        await send.slash_command("backups", user_id=ADMIN, channel_id=CHANNEL)
        assert send.last_response_id is not None
        await fake_slack.wait_for_responses(send.last_response_id, count=1)
        assert await asyncio.to_thread(process.stop) == 0, process.tail()
        _assert_clean(process, token)
    finally:
        process.kill()


async def test_socket_mode_at_debug_never_logs_a_modal_token(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str, tmp_path: Path
) -> None:
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    fake_slack.add_token(APP_TOKEN, team_id=fake_slack.team_id, user_id="U0APP", bot_id="B0APP")
    token = _own_token()
    simulator.state.add_token(token, [WORKSPACE])
    env = _env(fake_slack, simulator, database_url)
    env.pop("SLACK_SIGNING_SECRET")
    env["SLACK_APP_TOKEN"] = APP_TOKEN
    payloads = SlackRequestSender(
        "http://127.0.0.1:9", "unused-secret", team_id=fake_slack.team_id, api_app_id="A0TEST"
    )
    async with running_socket_mode(fake_slack) as socket:
        process = bot_process(env, "run")
        try:
            process.spawn(tmp_path / "bot.log")
            await socket.wait_connected()
            await socket.slash_command(
                fake_slack,
                f"connect {WORKSPACE}",
                channel_id=CHANNEL,
                user_id=ADMIN,
                response_id="socket-1",
            )
            view = (await fake_slack.wait_for("views.open"))[0].args["view"]
            envelope = await socket.send(
                "interactive",
                payloads.view_submission_payload(
                    CallbackId.CONNECT_MODAL,
                    _modal_values(token),
                    user_id=ADMIN,
                    private_metadata=view["private_metadata"],
                ),
            )
            await socket.wait_for_ack(envelope)
            await _connected_and_used(fake_slack)
            await socket.slash_command(
                fake_slack, "backups", channel_id=CHANNEL, user_id=ADMIN, response_id="socket-2"
            )
            await fake_slack.wait_for_responses("socket-2", count=1)
            assert await asyncio.to_thread(process.stop) == 0, process.tail()
            _assert_clean(process, token)
            assert APP_TOKEN not in process.log_path.read_text()  # type: ignore[union-attr]
        finally:
            process.kill()
            await payloads.aclose()
