"""The App Home tab: recent failures, runs in progress and alert settings of visible channels.

What it shows: docs/reference/commands.md#app-home.

Published with `views.publish` on every `app_home_opened`, so it is never stale for long and
a retried event only publishes the same view again. Which channels a user "can see" is asked
of Slack (public, or the user is a member; a guest's own channels only) with two paginated
lists behind a short cache, and the database with a fixed number of queries, so the cost of an
open does not grow with the number of bound channels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
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
from handlers.home_buttons import members_only, register_home_buttons

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
PAGE_SIZE = 1000
MAX_PAGES = 50
"""Pages of a channel list read per open: 50,000 channels, beyond any team we serve."""
MAX_CACHED_LISTS = 2000
"""Per cache (teams' public channels, users' channels); beyond it the least recently used go."""


class ChannelVisibility:
    """Which bound channels a user can see: the public ones and those they are a member of; a
    guest (or anyone Slack cannot name just now) only the latter.

    Two paginated lists answer it for every channel at once, so opening Home costs the same
    Slack calls however many channels are bound: the team's public channels
    (`conversations.list`, Tier 2) and the user's own channels (`users.conversations`, Tier 3,
    which with the bot's token lists a private channel only if the bot is in it too). Each is
    cached for `ttl` seconds, at most `max_cached` of each. A list Slack will not give counts
    as empty: the Home tab must never show a channel to someone who could not open it.
    """

    def __init__(
        self,
        *,
        ttl: float = CACHE_SECONDS,
        max_cached: int = MAX_CACHED_LISTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._public: TTLCache[str, frozenset[str]] = TTLCache(max_cached, ttl, timer=clock)
        self._mine: TTLCache[tuple[str, str], frozenset[str]] = TTLCache(
            max_cached, ttl, timer=clock
        )

    async def visible(
        self,
        client: AsyncWebClient,
        team_id: str,
        user_id: str,
        channel_ids: Iterable[str],
        *,
        members_only: bool,
    ) -> set[str]:
        """The ones of `channel_ids` the user can see."""
        mine = await self._channels_of(client, team_id, user_id)
        public = frozenset() if members_only else await self._public_of(client, team_id)
        return {c for c in channel_ids if c in mine or c in public}

    async def _public_of(self, client: AsyncWebClient, team_id: str) -> frozenset[str]:
        cached = self._public.get(team_id)
        if cached is None:
            cached = await _listed(client.conversations_list, "channels", types="public_channel")
            self._public[team_id] = cached
        return cached

    async def _channels_of(
        self, client: AsyncWebClient, team_id: str, user_id: str
    ) -> frozenset[str]:
        cached = self._mine.get((team_id, user_id))
        if cached is None:
            cached = await _listed(
                client.users_conversations,
                "channels",
                user=user_id,
                types="public_channel,private_channel",
            )
            self._mine[(team_id, user_id)] = cached
        return cached


async def _listed(method: Callable[..., Awaitable[Any]], key: str, **args: str) -> frozenset[str]:
    """The ids of every page of a cursor-paginated conversations list (what Slack gave before
    an error; none if it refused at once)."""
    ids: set[str] = set()
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page = await method(**args, exclude_archived=True, limit=PAGE_SIZE, cursor=cursor)
            ids.update(str(c.get("id")) for c in page.get(key) or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
    except SlackApiError as exc:
        log.info("channel list incomplete: %s", exc.response.get("error"))
    return frozenset(ids)


async def visible_channels(
    visibility: ChannelVisibility,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    channels: Sequence[ChannelOverview],
    *,
    members_only: bool,
) -> list[ChannelOverview]:
    """The channels the user can see, in the given order."""
    ids = [channel.binding.channel_id for channel in channels]
    seen = await visibility.visible(client, team_id, user_id, ids, members_only=members_only)
    return [channel for channel in channels if channel.binding.channel_id in seen]


async def build_home(
    services: Services,
    visibility: ChannelVisibility,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
) -> View:
    """The channels the user can see (with what they follow there by DM), and the failures
    alerted in those channels only."""
    overview = await services.snapshots.channels_overview(team_id)
    only_theirs = await members_only(services, client, team_id, user_id)
    shown = await visible_channels(
        visibility, client, team_id, user_id, overview, members_only=only_theirs
    )
    failures = await services.snapshots.recent_failures(
        team_id, [c.binding.channel_id for c in shown], MAX_FAILURES
    )
    shown_ids = [c.binding.channel_id for c in shown]
    digests = await services.digests.in_channels(team_id, shown_ids)
    followed: dict[str, list[int]] = {}
    for channel_id, backup_id in await services.subscriptions.in_team(team_id, user_id):
        followed.setdefault(channel_id, []).append(backup_id)
    channels = [
        HomeChannel(
            c.binding,
            c.watches,
            c.backup_names,
            digests.get(c.binding.channel_id),
            followed.get(c.binding.channel_id, ()),
        )
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
