"""App Home: the tab (recent failures, runs in progress and alert settings of visible
channels) and its Show log and Run snapshot buttons on a recent failure.

What it shows: docs/reference/commands.md#app-home.

Published with `views.publish` on every `app_home_opened`, so it is never stale for long and
a retried event only publishes the same view again. Which channels a user "can see" is asked
of Slack (public, or the user is a member; a guest's own channels only) with two paginated
lists behind a short cache, and the database with a fixed number of queries, so the cost of an
open does not grow with the number of bound channels.

A click on the tab comes from no channel: the failure's channel travels in the button
(`HomeFailureRef`). Nothing is done unless the clicking user can see that channel (the same
check, and cache, as the tab itself), so an edited value cannot reach another channel's
workspace. Then the click acts through that channel's binding, exactly as the same button on
the alert would: the log is shown to the user alone in that channel, and a retry's card joins
the alert's thread. So these clicks have a listener of their own (`_register_buttons`), not
the channel buttons' one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.clicks import ClickedButton
from bot.services.snapshots import ChannelOverview
from bot.slack.authz import Role
from bot.slack.messages import HomeChannel, home_view
from bot.slack.messages.home import MAX_FAILURES
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import HomeFailureRef
from bot.slack.visibility import ChannelVisibility
from handlers.context import Services, SlackContext
from handlers.errors import handle_error
from handlers.screens import snapshot_log
from handlers.snapshot_start import START_SNAPSHOT, Retry, start_snapshot
from handlers.topic import Topic

log = logging.getLogger(__name__)

HomeHandler = Callable[[SlackContext, HomeFailureRef, str], Awaitable[None]]


async def members_only(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> bool:
    """Whether the user sees only channels they are in: a guest, someone of another
    organisation, or anyone Slack cannot name just now (fail closed)."""
    standing = await services.authorizer.standing(client, team_id, user_id)
    return standing.outsider is not None


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


# -- the tab's buttons -------------------------------------------------------------------------


async def show_log(ctx: SlackContext, ref: HomeFailureRef, value: str) -> None:
    bound = await ctx.workspace()
    await ctx.reply(await snapshot_log(ctx, bound, ref.backup_id, ref.snapshot_id))


async def run_snapshot(ctx: SlackContext, ref: HomeFailureRef, value: str) -> None:
    """Starts a run of the failed backup; its card goes to the alert's thread (once per click)."""
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    button = ClickedButton(ctx.team_id, ctx.channel_id, "", str(ActionId.HOME_RUN_SNAPSHOT), value)
    claim = await ctx.services.clicks.claim(button, ctx.user_id)
    try:
        await start_snapshot(ctx, bound, ref.backup_id, retry=Retry(ref.snapshot_id, ref.alert_ts))
    except Exception:
        await ctx.services.clicks.release(claim)
        raise


HOME_BUTTONS: dict[ActionId, HomeHandler] = {
    ActionId.HOME_SHOW_LOG: show_log,
    ActionId.HOME_RUN_SNAPSHOT: run_snapshot,
}


def _register_buttons(app: AsyncApp, services: Services, visibility: ChannelVisibility) -> None:
    def listener(handler: HomeHandler) -> Callable[..., Awaitable[None]]:
        async def on_click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            try:
                action = (body.get("actions") or [{}])[0]
                value = str(action.get("value") or "")
                ref = HomeFailureRef.load(value)
            except Exception as error:
                await handle_error(error, body)
                return
            # Errors are told to the user in the failure's channel, as for a click there.
            in_channel = {**body, "channel": {"id": ref.channel_id}}
            try:
                ctx = SlackContext.from_body(
                    services, in_channel, client, None, channel_id=ref.channel_id
                )
                only_theirs = await members_only(services, client, ctx.team_id, ctx.user_id)
                seen = await visibility.visible(
                    client, ctx.team_id, ctx.user_id, [ref.channel_id], members_only=only_theirs
                )
                if ref.channel_id not in seen:
                    log.warning(
                        "Home click by %s on channel %s, which they cannot see: ignored",
                        ctx.user_id,
                        ref.channel_id,
                    )
                    return
                await handler(ctx, ref, value)
            except Exception as error:
                await handle_error(error, in_channel, None, client)

        return on_click

    for action_id, handler in HOME_BUTTONS.items():
        app.action(str(action_id))(listener(handler))


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
    _register_buttons(app, services, visibility)


TOPIC = Topic(register=register)
