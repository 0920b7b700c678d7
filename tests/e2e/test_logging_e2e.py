"""JSON log lines of a request carry its team, channel and user as fields, so an operator can
filter one channel's story out of a busy log. Checked on a real `skyvia-bot --log-format json`
child process: the listener's own lines (run in tasks Bolt starts) and the access line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.simulator import RunningSimulator
from tests.constants import CHANNEL, MEMBER
from tests.e2e.bot_runner import SIGNING_SECRET, bot_env, bot_process


def _json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


async def test_json_lines_of_a_request_carry_team_channel_and_user(
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    database_url: str,
    slack_sender_factory: Callable[[str, str], SlackRequestSender],
    tmp_path: Path,
) -> None:
    fake_slack.add_user(MEMBER, name="dana")
    env = bot_env(
        slack_api_url=fake_slack.api_url,
        skyvia_api_url=simulator.base_url,
        database_url=database_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SKYVIA_API_TOKEN=simulator.token,
    )
    process = bot_process(env, "--log-format", "json", "run", "--http")
    try:
        await process.start(tmp_path / "bot.log")
        send = slack_sender_factory(process.url, SIGNING_SECRET)
        # An unknown verb: the listener logs the refusal, then answers on the response URL.
        await send.slash_command("frobnicate", user_id=MEMBER, channel_id=CHANNEL)
        assert send.last_response_id is not None
        await fake_slack.wait_for_responses(send.last_response_id, count=1)
        assert await asyncio.to_thread(process.stop) == 0, process.tail()
    finally:
        process.kill()
    assert process.log_path is not None
    lines = _json_lines(process.log_path)
    refusal = [line for line in lines if line["msg"].startswith("refused command")]
    access = [line for line in lines if line["msg"] == "slack request"]
    assert refusal and access, process.tail()
    for line in (refusal[0], access[0]):
        assert line["team"] == fake_slack.team_id
        assert line["channel"] == CHANNEL
        assert line["user"] == MEMBER
    # Lines outside any request carry no request ids.
    startup = [line for line in lines if "serving Slack requests" in line["msg"]]
    assert startup and "channel" not in startup[0]
