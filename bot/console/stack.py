"""Everything the console runs, in one process on loopback: simulator, Slack stand-in, real bot.

The bot part is exactly what `skyvia-bot run` serves (Bolt app, handlers, storage, workers,
Starlette lifespan), reached over HTTP with signed requests, so what works here works in Slack.
Settings are built explicitly, field by field, so a developer's exported SLACK_* or SKYVIA_*
variables (or a `.env`) cannot point the console at a real workspace.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.app import create_app
from bot.clock import zone_of
from bot.config import Settings
from bot.container import Container
from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack, running_fake_slack, serve_asgi_on_loopback
from bot.simulator import DEFAULT_TOKEN, RunningSimulator, running_simulator
from bot.simulator.seed import paging_seed
from bot.web import create_web_app
from bot.workers import build_workers
from storage.db import upgrade_async

USER_ID = "U0YOU"
USER_NAME = "you"
PEOPLE = {
    "you": (USER_ID, "a workspace admin"),
    "member": ("U0MEMBER", "a member (not an admin)"),
    "guest": ("U0GUEST", "a guest (multi-channel)"),
}
"""Who `as @name` makes the console's person: name -> (Slack user id, the role in words)."""
CHANNEL_ID = "C0OPS"
CHANNEL_NAME = "ops"
BOT_NAME = "Skyvia Backup Bot"
WATCH_INTERVAL = 1.0
ALERT_INTERVAL = 2.0


def local_zone() -> str:
    """This machine's IANA zone (`TZ`, else where /etc/localtime points), as the Slack zone of
    the console's people: `digest daily 09:00` then means 09:00 on this screen. UTC if unknown."""
    name = os.environ.get("TZ", "").removeprefix(":")
    if not name:
        try:
            name = os.readlink("/etc/localtime").partition("zoneinfo/")[2]
        except OSError:
            name = ""
    return zone_of(name).key


@dataclass(frozen=True)
class ConsoleStack:
    slack: FakeSlack
    sim: RunningSimulator
    send: SlackRequestSender
    settings: Settings
    bot_url: str
    container: Container
    user_id: str = USER_ID
    channel_id: str = CHANNEL_ID

    def secrets(self) -> list[str]:
        """Values that must never reach a log line."""
        values = [self.settings.slack_bot_token, self.settings.slack_signing_secret]
        found = [v.get_secret_value() for v in values if v is not None]
        return [*found, self.sim.token]


def console_settings(
    *,
    slack_api_url: str,
    bot_token: str,
    signing_secret: str,
    skyvia_api_url: str,
    skyvia_token: str,
    database_url: str,
) -> Settings:
    """Every field given, so nothing comes from the environment or a `.env` file."""
    env: dict[str, Any] = {
        "SLACK_BOT_TOKEN": bot_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_APP_TOKEN": None,
        "SLACK_CLIENT_ID": None,
        "SLACK_CLIENT_SECRET": None,
        "SLACK_API_URL": slack_api_url,
        "SKYVIA_API_URL": skyvia_api_url,
        "SKYVIA_API_TOKEN": skyvia_token,
        "DATABASE_URL": database_url,
        "SKYVIA_BOT_ENCRYPTION_KEY": None,  # the key file beside the SQLite database
        "SKYVIA_BOT_WATCH_INTERVAL": WATCH_INTERVAL,
        "SKYVIA_BOT_ALERT_INTERVAL": ALERT_INTERVAL,
        "SKYVIA_BOT_WATCH_GIVE_UP": 86400.0,
        "SKYVIA_BOT_ALERT_LOOKBACK": 86400.0,
        "SKYVIA_BOT_ADMINS": "",
        "SKYVIA_BOT_OPERATORS": "",
        "PORT": 3000,
        "LOG_LEVEL": "INFO",
    }
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


@asynccontextmanager
async def running_console_stack(*, database_url: str, speed: float) -> AsyncIterator[ConsoleStack]:
    """Starts the three parts; on exit stops the bot (workers, then clients), Slack, Skyvia."""
    async with AsyncExitStack() as stack:
        # Its own token, not SKYVIA_API_TOKEN from the environment (which may be a real one).
        sim = await stack.enter_async_context(
            running_simulator(speed=speed, tokens=[DEFAULT_TOKEN])
        )
        # One clock on screen: the bot's own times are real, so the simulator answers in real
        # time too (a sped-up run is then simply short), never hours ahead of the bot.
        sim.state.real_time_dates = True
        sim.state.report_rows = True  # "1,000 rows" on a card, as README shows
        sim.state.add_data(paging_seed())  # a workspace to page through (`connect 126`)
        slack = await stack.enter_async_context(
            running_fake_slack(bot_token=f"xoxb-console-{secrets.token_hex(12)}")
        )
        zone = local_zone()
        slack.add_user(USER_ID, name=USER_NAME, is_admin=True, tz=zone)
        slack.add_user(PEOPLE["member"][0], name="member", tz=zone)
        slack.add_user(PEOPLE["guest"][0], name="guest", guest="multi", tz=zone)
        slack.add_channel(CHANNEL_ID, name=CHANNEL_NAME)
        settings = console_settings(
            slack_api_url=slack.api_url,
            bot_token=slack.bot_token,
            signing_secret=secrets.token_hex(16),
            skyvia_api_url=sim.base_url,
            skyvia_token=sim.token,
            database_url=database_url,
        )
        await upgrade_async(settings.database_url)
        container = await Container.create(settings)
        try:
            web = create_web_app(
                container, create_app(container), background=build_workers(container)
            )
            bot_url = await stack.enter_async_context(serve_asgi_on_loopback(web, lifespan="on"))
        except BaseException:
            await container.aclose()
            raise
        assert settings.slack_signing_secret is not None
        send = SlackRequestSender(
            bot_url,
            settings.slack_signing_secret.get_secret_value(),
            team_id=slack.team_id,
            team_domain=slack.team_domain,
            api_app_id=slack.app_id,
            bot_user_id=slack.bot_user_id,
            response_url_for=slack.response_url,
        )
        stack.push_async_callback(send.aclose)
        yield ConsoleStack(
            slack=slack, sim=sim, send=send, settings=settings, bot_url=bot_url, container=container
        )
