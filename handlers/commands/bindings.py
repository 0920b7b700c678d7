"""help, connect, disconnect, status, alerts on|off, alerts mute|unmute."""

from __future__ import annotations

from bot.services.bindings import BoundWorkspace, MuteResult, MuteUnchanged
from bot.services.timers import TimerKind
from bot.slack.authz import Role
from bot.slack.messages import (
    alerts_changed_message,
    connect_modal,
    connected_message,
    disconnected_message,
    help_message,
    mute_changed_message,
    refusal_message,
    status_message,
)
from bot.slack.messages.timers import with_pending_ends
from bot.slack.parsing import (
    AlertsCmd,
    ConnectCmd,
    DisconnectCmd,
    HelpCmd,
    MuteCmd,
    StatusCmd,
)
from handlers.commands.timers import timed_mute
from handlers.context import NotInChannel, SlackContext

MUTE_ALERTS = "mute or unmute a backup's alerts"


async def show_help(ctx: SlackContext, _: HelpCmd) -> None:
    await ctx.reply(help_message())


async def connect(ctx: SlackContext, command: ConnectCmd) -> None:
    await ctx.require(Role.ADMIN, "connect a channel")
    bindings = ctx.services.bindings
    if command.workspace_id is None or not bindings.default_token_serves(ctx.team_id):
        # A team the default token does not serve is told why it must bring its own token.
        refused = bindings.has_default_token and not bindings.default_token_serves(ctx.team_id)
        await ctx.client.views_open(
            trigger_id=ctx.trigger_id,
            view=connect_modal(
                channel_id=ctx.channel_id,
                workspace_id=command.workspace_id,
                token_required=True,
                own_token_required=refused,
            ),
        )
        return
    await finish_connect(ctx, command.workspace_id, token=None)


async def finish_connect(ctx: SlackContext, workspace_id: int, token: str | None) -> None:
    """Binds, then tells the channel; undoes the binding if the bot cannot post there."""
    service = ctx.services.bindings
    binding = await service.connect(
        team_id=ctx.team_id,
        channel_id=ctx.channel_id,
        workspace_id=workspace_id,
        token=token,
        user_id=ctx.user_id,
        enterprise_id=ctx.enterprise_id,
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
    result = await ctx.services.bindings.disconnect(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
    )
    message = disconnected_message(result.workspace_id, ctx.user_id, result.stopped_watches)
    try:
        await ctx.post(message)
    except NotInChannel:
        await ctx.reply(message)


async def status(ctx: SlackContext, _: StatusCmd) -> None:
    result = await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)
    ends = await ctx.services.timers.pending(ctx.team_id, ctx.channel_id)
    await ctx.reply(with_pending_ends(status_message(result.binding, result.watches), ends))


async def alerts(ctx: SlackContext, command: AlertsCmd) -> None:
    await ctx.require(Role.ADMIN, "turn failure alerts on or off")
    await ctx.services.bindings.set_alerts(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id, enabled=command.enabled
    )
    await ctx.post(alerts_changed_message(ctx.user_id, command.enabled))


async def set_mute(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, mute: bool
) -> MuteResult:
    """Mutes or unmutes; a change is told to the channel, a repeat only to the user.

    Either way a pending end of a timed mute goes: unmuted is unmuted, and a plain mute lasts
    until someone unmutes.
    """
    result = await ctx.services.bindings.mute(bound, backup_id, user_id=ctx.user_id, mute=mute)
    await ctx.services.timers.cancel(TimerKind.MUTE_END, bound, backup_id)
    if isinstance(result, MuteUnchanged):
        state = "muted" if mute else "not muted"
        await ctx.reply(
            refusal_message(
                f"Alerts for backup {backup_id} are already {state} here.",
                "`/skyvia status` shows this channel's muted backups.",
            )
        )
        return result
    message = mute_changed_message(ctx.user_id, result.backup, result.muted)
    try:
        await ctx.post(message)
    except NotInChannel:
        # The mute is recorded; a private channel without the bot still deserves to know who.
        await ctx.reply(message)
    return result


async def mute(ctx: SlackContext, command: MuteCmd) -> None:
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, MUTE_ALERTS)
    if command.until is not None:
        await timed_mute(ctx, bound, command.backup_id, command.until)
        return
    await set_mute(ctx, bound, command.backup_id, command.mute)


HANDLERS = {
    HelpCmd: show_help,
    ConnectCmd: connect,
    DisconnectCmd: disconnect,
    StatusCmd: status,
    AlertsCmd: alerts,
    MuteCmd: mute,
}
