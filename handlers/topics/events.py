"""Events that take a channel away from the bot: pause its binding instead of failing to post;
and events that take a person away: end their subscriptions.

Bolt acknowledges events itself; each listener first drops Slack's retries of an event it has
already acted on (`ChannelPauses.first_delivery`, by event id), then pauses the bindings the
event concerns. `app_home_opened` lives in `handlers.topics.home`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.services.channel_pauses import TEAM_GONE
from handlers.context import Services
from handlers.topic import Topic

CHANNEL_GONE: dict[str, str] = {
    "channel_archived": "the channel was archived",
    "group_archived": "the channel was archived",
    "channel_deleted": "the channel was deleted",
    "group_deleted": "the channel was deleted",
}
BOT_LEFT = "the bot was removed from the channel; invite it back and run `/skyvia connect`"


def _team_of(body: dict[str, Any], context: AsyncBoltContext) -> str:
    return str(context.team_id or body.get("team_id") or "")


def _user_changed(
    services: Services,
) -> Callable[[dict[str, Any], dict[str, Any], AsyncBoltContext], Awaitable[None]]:
    async def user_changed(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """A deactivated person (`deleted`) gets no more DMs from any channel of the team."""
        user = event.get("user")
        if not isinstance(user, dict) or not user.get("deleted") or not user.get("id"):
            return
        await services.subscriptions.forget(_team_of(body, context), str(user["id"]))

    return user_changed


def register(app: AsyncApp, services: Services) -> None:
    """Wires this group's listeners."""
    pauses = services.pauses

    async def first_time(body: dict[str, Any]) -> bool:
        event_id = body.get("event_id")
        return not event_id or await pauses.first_delivery(str(event_id))

    async def channel_gone(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if not await first_time(body):
            return
        channel = event.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else channel
        if channel_id:
            await pauses.pause_channel(
                _team_of(body, context), str(channel_id), CHANNEL_GONE[str(event["type"])]
            )

    async def member_left(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """The bot leaving pauses the channel; anyone else leaving ends their subscriptions
        there (no DMs of a channel one is no longer in). Both are idempotent, so a retry of
        a person's event is harmless."""
        team_id = str(event.get("team") or _team_of(body, context))
        user_id = event.get("user")
        if user_id != context.bot_user_id:
            if user_id and event.get("channel"):
                await services.subscriptions.forget(team_id, str(user_id), str(event["channel"]))
            return
        if not await first_time(body):
            return
        await pauses.pause_channel(team_id, str(event["channel"]), BOT_LEFT)

    async def team_gone(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Forgets the installation and pauses the team: nothing is posted there until a
        reinstall (which resumes it). A revocation of user tokens only leaves the bot alone."""
        kind = str(event["type"])
        if kind == "tokens_revoked" and not ((event.get("tokens") or {}).get("bot")):
            return
        if not await first_time(body):
            return
        team_id = _team_of(body, context)
        # An org-wide install serves every workspace of its Grid org: all of them go with it.
        org = context.enterprise_id if context.is_enterprise_install else None
        await pauses.pause_team(team_id, TEAM_GONE[kind], org)
        await services.installations.forget(team_id, context.enterprise_id, org_wide=bool(org))

    for name in CHANNEL_GONE:
        app.event(name)(channel_gone)
    app.event("member_left_channel")(member_left)
    app.event("user_change")(_user_changed(services))
    for name in TEAM_GONE:
        app.event(name)(team_gone)


TOPIC = Topic(register=register)
