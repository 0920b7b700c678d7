"""The App Home's buttons: Show log and Run snapshot on a recent failure.

A click on the Home tab comes from no channel: the failure's channel travels in the button
(`HomeFailureRef`). Nothing is done unless the clicking user can see that channel (the same
check, and cache, as the tab itself), so an edited value cannot reach another channel's
workspace. Then the click acts through that channel's binding, exactly as the same button on
the alert would: the log is shown to the user alone in that channel, and a retry's card joins
the alert's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.clicks import ClickedButton
from bot.slack.authz import Role
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import HomeFailureRef
from bot.slack.visibility import ChannelVisibility
from handlers.commands.backups import START_SNAPSHOT, Retry, snapshot_log, start_snapshot
from handlers.context import Services, SlackContext
from handlers.errors import handle_error

log = logging.getLogger(__name__)

HomeHandler = Callable[[SlackContext, HomeFailureRef, str], Awaitable[None]]


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


async def members_only(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str
) -> bool:
    """Whether the user sees only channels they are in: a guest, someone of another
    organisation, or anyone Slack cannot name just now (fail closed)."""
    standing = await services.authorizer.standing(client, team_id, user_id)
    return standing.outsider is not None


def register_home_buttons(app: AsyncApp, services: Services, visibility: ChannelVisibility) -> None:
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
