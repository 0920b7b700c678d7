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
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.snapshots import ChannelOverview
from bot.slack.messages import HomeChannel, home_view
from bot.slack.messages.home import MAX_FAILURES
from bot.slack.visibility import ChannelVisibility
from handlers.context import Services
from handlers.errors import handle_error
from handlers.home_buttons import members_only, register_home_buttons

log = logging.getLogger(__name__)


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
            c.overdue,
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
