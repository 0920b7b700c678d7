"""help, connect, disconnect, status, alerts on|off, alerts mute|unmute."""

from __future__ import annotations

from bot.slack.authz import Role
from bot.slack.messages import (
    alerts_changed_message,
    connect_modal,
    connected_message,
    disconnected_message,
    help_message,
    mute_changed_message,
    status_message,
)
from bot.slack.parsing import (
    AlertsCmd,
    ConnectCmd,
    DisconnectCmd,
    HelpCmd,
    MuteCmd,
    StatusCmd,
)
from handlers.context import NotInChannel, SlackContext
from handlers.views_data import binding_view, watch_view


async def show_help(ctx: SlackContext, _: HelpCmd) -> None:
    await ctx.reply(help_message())


async def connect(ctx: SlackContext, command: ConnectCmd) -> None:
    await ctx.require(Role.ADMIN, "connect a channel")
    if command.workspace_id is None or not ctx.container.bindings.has_default_token:
        await ctx.client.views_open(
            trigger_id=ctx.trigger_id,
            view=connect_modal(channel_id=ctx.channel_id, workspace_id=command.workspace_id),
        )
        return
    await finish_connect(ctx, command.workspace_id, token=None)


async def finish_connect(ctx: SlackContext, workspace_id: int, token: str | None) -> None:
    """Binds, then tells the channel; undoes the binding if the bot cannot post there."""
    service = ctx.container.bindings
    binding = await service.connect(
        team_id=ctx.team_id,
        channel_id=ctx.channel_id,
        workspace_id=workspace_id,
        token=token,
        user_id=ctx.user_id,
    )
    try:
        await ctx.post(connected_message(workspace_id, binding.workspace_name, ctx.user_id))
    except NotInChannel:
        await service.disconnect(
            team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
        )
        raise


async def disconnect(ctx: SlackContext, _: DisconnectCmd) -> None:
    await ctx.require(Role.ADMIN, "disconnect a channel")
    result = await ctx.container.bindings.disconnect(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
    )
    message = disconnected_message(result.workspace_id, ctx.user_id, result.stopped_watches)
    try:
        await ctx.post(message)
    except NotInChannel:
        await ctx.reply(message)


async def status(ctx: SlackContext, _: StatusCmd) -> None:
    result = await ctx.container.bindings.status(ctx.team_id, ctx.channel_id)
    view = binding_view(result.binding, result.muted_backup_ids) if result.binding else None
    await ctx.reply(status_message(view, [watch_view(w) for w in result.watches]))


async def alerts(ctx: SlackContext, command: AlertsCmd) -> None:
    await ctx.require(Role.ADMIN, "turn failure alerts on or off")
    await ctx.container.bindings.set_alerts(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id, enabled=command.enabled
    )
    await ctx.post(alerts_changed_message(ctx.user_id, command.enabled))


async def mute(ctx: SlackContext, command: MuteCmd) -> None:
    await ctx.require(Role.OPERATOR, "mute or unmute a backup's alerts")
    bound = await ctx.workspace()
    # Confirm the backup exists in this channel's workspace before recording the mute.
    backup = await ctx.container.skyvia.get_backup(
        bound.token, bound.workspace_id, command.backup_id
    )
    await ctx.container.bindings.set_mute(
        team_id=ctx.team_id,
        channel_id=ctx.channel_id,
        user_id=ctx.user_id,
        backup_id=command.backup_id,
        mute=command.mute,
    )
    await ctx.post(mute_changed_message(ctx.user_id, backup, command.mute))


HANDLERS = {
    HelpCmd: show_help,
    ConnectCmd: connect,
    DisconnectCmd: disconnect,
    StatusCmd: status,
    AlertsCmd: alerts,
    MuteCmd: mute,
}
