"""`skyvia-bot run` in Socket Mode: connects with the app token, acks commands over the socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.devtools.slack_standin import FakeSlack
from bot.devtools.socket_mode_standin import running_socket_mode
from bot.simulator import RunningSimulator
from tests.constants import ADMIN, CHANNEL
from tests.e2e.bot_runner import bot_env, bot_process

APP_TOKEN = "xapp-1-A0TEST-socket-mode-token"


async def test_socket_mode_serves_slash_commands_without_a_signing_secret(
    fake_slack: FakeSlack, simulator: RunningSimulator, database_url: str, tmp_path: Path
) -> None:
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    fake_slack.add_token(APP_TOKEN, team_id=fake_slack.team_id, user_id="U0APP", bot_id="B0APP")
    async with running_socket_mode(fake_slack) as socket:
        env = bot_env(
            slack_api_url=fake_slack.api_url,
            skyvia_api_url=simulator.base_url,
            database_url=database_url,
            SLACK_BOT_TOKEN=fake_slack.bot_token,
            SLACK_APP_TOKEN=APP_TOKEN,
            SKYVIA_API_TOKEN=simulator.token,
        )
        env.pop("SLACK_SIGNING_SECRET")
        process = bot_process(env, "run")  # SLACK_APP_TOKEN set: Socket Mode by default
        try:
            process.spawn(tmp_path / "bot.log")
            await socket.wait_connected()
            connections = fake_slack.calls_to("apps.connections.open")
            assert connections and connections[0].token == APP_TOKEN

            await socket.slash_command(
                fake_slack, "connect 123", channel_id=CHANNEL, user_id=ADMIN, response_id="socket-1"
            )
            posted = await fake_slack.wait_for(
                "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL
            )
            assert "123" in posted[0].args["text"]
            # The word Bolt's HTTP body parser trips on (tests/faults/test_payload_word.py)
            # arrives here already parsed, in the envelope: served all the same.
            await socket.slash_command(
                fake_slack, "backups payload", channel_id=CHANNEL, user_id=ADMIN, response_id="s-2"
            )
            assert await fake_slack.wait_for_responses("s-2", count=1)
            # Off the event loop: the socket stand-in must keep answering the close handshake.
            assert await asyncio.to_thread(process.stop) == 0, process.tail()
            assert APP_TOKEN not in process.tail()
        finally:
            process.kill()
