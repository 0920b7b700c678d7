"""`skyvia-bot run --simulator`: the real process, given a Slack app and nothing of Skyvia.

A person with only a Slack app must be able to try every command, so the bot has to find its
Skyvia (URL and token) in the in-process simulator by itself.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack
from bot.simulator import DEFAULT_TOKEN
from tests.constants import ADMIN, CHANNEL
from tests.e2e.bot_runner import SIGNING_SECRET, bot_process


async def test_run_simulator_connects_and_reports_status_with_no_skyvia_settings(
    fake_slack: FakeSlack,
    slack_sender_factory: Callable[[str, str], SlackRequestSender],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SKYVIA_API_URL", "SKYVIA_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    fake_slack.add_user(ADMIN, name="ada", is_admin=True)
    bot = bot_process(
        {
            "SLACK_BOT_TOKEN": fake_slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "LOG_LEVEL": "INFO",
        },
        "run",
        "--http",
        "--simulator",
    )
    try:
        await bot.start(tmp_path / "bot.log")
        send = slack_sender_factory(bot.url, SIGNING_SECRET)

        answer = await send.slash_command("connect 123", user_id=ADMIN, channel_id=CHANNEL)
        assert answer.status_code == 200, answer.text
        posted = await fake_slack.wait_for(
            "chat.postMessage", lambda c: c.ok and c.args.get("channel") == CHANNEL, timeout=30
        )
        announcement = posted[0].args["text"]
        # "Operations" is the simulator's name for workspace 123: the token check reached it.
        assert "connected" in announcement and "Operations" in announcement, bot.tail()
        assert f"<@{ADMIN}>" in announcement

        answer = await send.slash_command("status", user_id=ADMIN, channel_id=CHANNEL)
        assert answer.status_code == 200, answer.text
        assert send.last_response_id is not None
        status = (await fake_slack.wait_for_responses(send.last_response_id, timeout=30))[0].body
        rendered = status["text"] + str(status.get("blocks"))
        assert "123" in rendered and f"<@{ADMIN}>" in rendered, rendered
    finally:
        returncode = bot.stop()
    log = bot.tail()
    # uvicorn re-raises SIGTERM once its graceful shutdown is done: a clean stop reads -SIGTERM.
    assert returncode in (0, -signal.SIGTERM), log
    assert "simulator" in log.lower()
    assert DEFAULT_TOKEN not in log  # the simulator's token is still a token: never logged
