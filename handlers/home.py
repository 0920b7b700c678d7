"""The App Home tab: recent failures, runs in progress and alert settings of visible channels.

What it shows: docs/reference/commands.md#app-home.

Published with `views.publish` on every `app_home_opened`, so it is never stale for long and
a retried event only publishes the same view again. Which channels a user "can see" is asked
of Slack (public, or the user is a member), through a short cache and a bound on how many
channels are checked, so a busy Home tab cannot flood Slack's rate-limited methods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from cachetools import TTLCache
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.snapshots import ChannelOverview
from bot.slack.messages import HomeChannel, home_view
from bot.slack.messages.home import MAX_FAILURES
from handlers.context import Services
from handlers.errors import handle_error
from handlers.home_buttons import register_home_buttons

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
MAX_CHANNELS_CHECKED = 100
"""More bound channels than the Home tab can show (about 30) are not worth asking Slack about."""
MAX_MEMBER_PAGES = 10
CONCURRENT_CHECKS = 4
MAX_CACHED_CHANNELS = 2000
"""Per cache; beyond it the least recently used channels go (a refill costs one call each)."""


class ChannelVisibility:
    """Whether a user can see a channel: public, or a member of the private one.

    `conversations.info` (Tier 3) and `conversations.members` (Tier 4) answers are cached for
    `ttl` seconds per channel, for at most `max_cached` channels. A channel Slack will not
    describe (deleted, or private without the bot) counts as invisible: the Home tab must never
    show a channel to someone who could not open it.
    """

    def __init__(
        self,
        *,
        ttl: float = CACHE_SECONDS,
        max_cached: int = MAX_CACHED_CHANNELS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._private: TTLCache[str, bool | None] = TTLCache(max_cached, ttl, timer=clock)
        self._members: TTLCache[str, frozenset[str]] = TTLCache(max_cached, ttl, timer=clock)

    async def visible(self, client: AsyncWebClient, channel_id: str, user_id: str) -> bool:
        private = await self._is_private(client, channel_id)
        if private is None:
            return False
        if not private:
            return True
        return user_id in await self._members_of(client, channel_id)

    async def _is_private(self, client: AsyncWebClient, channel_id: str) -> bool | None:
        try:
            return self._private[channel_id]  # None (invisible) is a cached answer too
        except KeyError:
            pass
        try:
            info = await client.conversations_info(channel=channel_id)
            channel = info.get("channel") or {}
            private: bool | None = bool(channel.get("is_private") or channel.get("is_group"))
        except SlackApiError as exc:
            log.info("channel %s not visible to the bot: %s", channel_id, exc.response.get("error"))
            private = None
        self._private[channel_id] = private
        return private

    async def _members_of(self, client: AsyncWebClient, channel_id: str) -> frozenset[str]:
        cached = self._members.get(channel_id)
        if cached is not None:
            return cached
        members: set[str] = set()
        try:
            cursor: str | None = None
            for _ in range(MAX_MEMBER_PAGES):
                page = await client.conversations_members(
                    channel=channel_id, limit=1000, cursor=cursor
                )
                members.update(page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            log.info("members of %s unknown: %s", channel_id, exc.response.get("error"))
        result = frozenset(members)
        self._members[channel_id] = result
        return result


async def visible_channels(
    visibility: ChannelVisibility,
    client: AsyncWebClient,
    user_id: str,
    channels: Sequence[ChannelOverview],
) -> list[ChannelOverview]:
    """The first `MAX_CHANNELS_CHECKED` channels the user can see, in the given order."""
    limit = asyncio.Semaphore(CONCURRENT_CHECKS)

    async def check(channel: ChannelOverview) -> bool:
        async with limit:
            return await visibility.visible(client, channel.binding.channel_id, user_id)

    considered = list(channels[:MAX_CHANNELS_CHECKED])
    seen = await asyncio.gather(*(check(c) for c in considered))
    return [channel for channel, ok in zip(considered, seen, strict=True) if ok]


async def build_home(
    services: Services,
    visibility: ChannelVisibility,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
) -> View:
    """The channels the user can see, and the failures alerted in those channels only."""
    overview = await services.snapshots.channels_overview(team_id)
    shown = await visible_channels(visibility, client, user_id, overview)
    failures = await services.snapshots.recent_failures(
        team_id, [c.binding.channel_id for c in shown], MAX_FAILURES
    )
    shown_ids = [c.binding.channel_id for c in shown]
    digests = await services.digests.in_channels(team_id, shown_ids)
    channels = [
        HomeChannel(c.binding, c.watches, c.backup_names, digests.get(c.binding.channel_id))
        for c in shown
    ]
    return home_view(channels, failures)


def register(app: AsyncApp, services: Services) -> None:
    """`app_home_opened` -> `views.publish`, and the tab's buttons; the visibility cache lives
    as long as the app and is shared by both."""
    visibility = ChannelVisibility()

    async def on_home_opened(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("tab") != "home":
            return
        user_id = str(event.get("user") or "")
        team_id = str(body.get("team_id") or "")
        try:
            view = await build_home(services, visibility, client, team_id, user_id)
            await client.views_publish(user_id=user_id, view=view.to_dict())
        except Exception as error:
            # No one to answer in an event: the handler logs it (with a reference if unexpected).
            await handle_error(error, body)

    app.event("app_home_opened")(on_home_opened)
    register_home_buttons(app, services, visibility)
