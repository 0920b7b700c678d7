"""Which bound channels a user can see in Slack: a cached reader of two conversation lists.

A Slack adapter, used by the App Home tab and its buttons (`handlers.topics.home`): it calls
the Web API, so it lives beside the other clients and not in a handler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

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
