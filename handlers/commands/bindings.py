"""help, connect, disconnect, status, alerts on|off, alerts mute|unmute, alerts stale."""

from __future__ import annotations

import logging
from typing import TypeGuard

from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.services.alert_settings import MuteResult, MuteUnchanged
from bot.services.bindings import BoundWorkspace
from bot.services.errors import DomainError, NotInChannel
from bot.services.models import ChannelBinding, WatchedRun
from bot.services.timers import TimerKind
from bot.skyvia.models import Backup, Workspace
from bot.slack.authz import Role
from bot.slack.grammar.parsing import (
    AlertsCmd,
    ConnectCmd,
    DisconnectCmd,
    HelpCmd,
    MuteCmd,
    StaleCmd,
    StatusCmd,
)
from bot.slack.messages import (
    Pick,
    alerts_changed_message,
    alerts_unchanged_message,
    already_connected_message,
    connect_modal,
    connected_message,
    disconnect_question,
    disconnected_message,
    help_message,
    mute_changed_message,
    replace_binding_message,
    status_message,
    watch_ended_card,
)
from bot.slack.messages.digests import with_digest
from bot.slack.messages.mrkdwn import user_mention
from bot.slack.messages.overdue import overdue_limit_changed_message
from bot.slack.messages.staleness import stale_limit_changed_message
from bot.slack.messages.timers import mute_unchanged_message, with_pending_ends
from handlers.commands.backups import resolve
from handlers.commands.timers import timed_mute
from handlers.context import SlackContext

log = logging.getLogger(__name__)

MUTE_ALERTS = "mute or unmute a backup's alerts"
CONNECT = "connect a channel"
DISCONNECT = "disconnect a channel"


async def show_help(ctx: SlackContext, _: HelpCmd) -> None:
    await ctx.reply(help_message())


async def connect(ctx: SlackContext, command: ConnectCmd) -> None:
    await ctx.require(Role.ADMIN, CONNECT)
    policy = ctx.services.token_policy
    if command.workspace_id is None or not policy.default_token_serves(ctx.team_id):
        # A team the default token does not serve is told why it must bring its own token.
        refused = policy.has_default_token and not policy.default_token_serves(ctx.team_id)
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
    current = await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)
    if _connected_as_asked(current.binding, command.workspace_id):
        await ctx.reply(already_connected_message(current.binding))
        return
    if current.binding is not None and current.binding.workspace_id != command.workspace_id:
        # Replacing drops the old workspace's mutes and watches: an admin confirms first.
        names = await _backup_names(ctx, current.binding.workspace_id)
        watches = len(current.watches)
        ask = replace_binding_message(current.binding, watches, command.workspace_id, names)
        await ctx.reply(ask)
        return
    await finish_connect(ctx, command.workspace_id, token=None)


def _connected_as_asked(
    binding: ChannelBinding | None, workspace_id: int
) -> TypeGuard[ChannelBinding]:
    """A repeat of `connect <id>` that would change nothing: the same workspace, on the default
    token (what a typed `connect` uses), and no pause for a reconnect to lift."""
    return (
        binding is not None
        and binding.workspace_id == workspace_id
        and binding.uses_default_token
        and not binding.paused
    )


async def replace_connection(ctx: SlackContext, workspace_id: int) -> None:
    """Confirmed by the `Connect to <id>` button: binds the other workspace."""
    await ctx.require(Role.ADMIN, CONNECT)
    await finish_connect(ctx, workspace_id, token=None)


async def end_cards(ctx: SlackContext, ended: list[WatchedRun], reason: str) -> None:
    """Gives each stopped watch's card a final update, so none stays on "starting" forever.

    Best effort per card: one deleted or unreachable card must not keep the others unchanged.
    """
    for watch in ended:
        if not watch.message_ts:
            continue
        message = watch_ended_card(watch, reason)
        try:
            await ctx.client.chat_update(
                **message.kwargs(channel=watch.channel_id, ts=watch.message_ts)
            )
        except SlackApiError as error:
            log.warning(
                "could not end the card of snapshot %s: %s",
                watch.snapshot_id,
                error.response.get("error"),
                extra={"team": ctx.team_id, "channel": watch.channel_id},
            )


async def finish_connect(
    ctx: SlackContext, workspace_id: int, token: str | None, reached: Workspace | None = None
) -> None:
    """Binds, then tells the channel; undoes the binding if the bot cannot post there.

    A binding to another workspace than before drops the old one's watches: they are stopped
    and their cards ended (the modal path included, where the typed token is the confirmation).
    """
    service = ctx.services.bindings
    before = (await service.status(ctx.team_id, ctx.channel_id)).binding
    binding = await service.connect(
        team_id=ctx.team_id,
        channel_id=ctx.channel_id,
        workspace_id=workspace_id,
        token=token,
        user_id=ctx.user_id,
        enterprise_id=ctx.enterprise_id,
        reached=reached,
    )
    try:
        await ctx.post(connected_message(binding, ctx.user_id))
    except NotInChannel:
        await service.disconnect(
            team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
        )
        raise
    if before is not None and before.workspace_id != workspace_id:
        # The old workspace's timed mutes and digest go; its windows end by themselves.
        await ctx.services.timers.drop_channel(ctx.team_id, ctx.channel_id)
        ended = await service.stop_watches(ctx.team_id, ctx.channel_id)
        by = user_mention(ctx.user_id)
        await end_cards(
            ctx, ended, f"the channel was connected to workspace {workspace_id} by {by}"
        )


async def disconnect(ctx: SlackContext, _: DisconnectCmd) -> None:
    """Disconnects at once, unless it would leave windows, mutes or a digest behind: then an
    admin is shown what and confirms with the button (`finish_disconnect`)."""
    await ctx.require(Role.ADMIN, DISCONNECT)
    binding = (await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)).binding
    if binding is not None:
        ends = await ctx.services.timers.pending(ctx.team_id, ctx.channel_id)
        windows = [e for e in ends if e.kind == TimerKind.WINDOW_END]
        digest = await ctx.services.digests.current(ctx.team_id, ctx.channel_id)
        if windows or binding.muted_backup_ids or digest is not None:
            words = digest.words if digest is not None else None
            await ctx.reply(disconnect_question(binding, windows, words))
            return
    await finish_disconnect(ctx)


async def finish_disconnect(ctx: SlackContext) -> None:
    """Unbinds the channel; its timed mutes and digest go too (its windows still end)."""
    await ctx.require(Role.ADMIN, DISCONNECT)
    result = await ctx.services.bindings.disconnect(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id
    )
    await ctx.services.timers.drop_channel(ctx.team_id, ctx.channel_id)
    message = disconnected_message(
        result.workspace_id, ctx.user_id, result.stopped_watches, result.workspace_name
    )
    try:
        await ctx.post(message)
    except NotInChannel:
        await ctx.reply(message)
    reason = f"the channel was disconnected by {user_mention(ctx.user_id)}"
    await end_cards(ctx, result.ended, reason)


async def status(ctx: SlackContext, _: StatusCmd) -> None:
    result = await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)
    ends = await ctx.services.timers.pending(ctx.team_id, ctx.channel_id)
    names: dict[int, str] = {}
    binding = result.binding
    if binding is not None and (binding.muted_backup_ids or binding.limits or ends):
        names = await _backup_names(ctx, binding.workspace_id)
    waited = None if result.queued_since is None else (utcnow() - result.queued_since)
    message = status_message(
        result.binding,
        result.watches,
        names,
        queued=result.queued,
        queued_for=None if waited is None else waited.total_seconds(),
    )
    message = with_pending_ends(message, ends, names)
    if result.binding is not None:
        digest = await ctx.services.digests.current(ctx.team_id, ctx.channel_id)
        message = with_digest(message, digest)
    await ctx.reply(message)


async def _backup_names(ctx: SlackContext, workspace_id: int) -> dict[int, str]:
    """Names for the backups a screen holds by id, without a Skyvia call: as the alert scanner
    last saw them, and the list kept for name look-ups; an id without a name is shown alone."""
    names = await ctx.services.snapshots.backup_names(workspace_id)
    try:
        bound = await ctx.workspace()
    except DomainError:  # e.g. paused: the scanner's names still serve
        return names
    return {**names, **ctx.services.backups.cached_names(bound)}


async def alerts(ctx: SlackContext, command: AlertsCmd) -> None:
    await ctx.require(Role.ADMIN, "turn failure alerts on or off")
    changed = await ctx.services.alert_settings.set_alerts(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id, enabled=command.enabled
    )
    if not changed:  # a repeat: only the user hears it, the channel already knows
        await ctx.reply(alerts_unchanged_message(command.enabled))
        return
    await ctx.post(alerts_changed_message(ctx.user_id, command.enabled))


async def set_mute(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, mute: bool
) -> MuteResult:
    """Mutes or unmutes; a change is told to the channel, a repeat only to the user.

    Either way a pending end of a timed mute goes: unmuted is unmuted, and a plain mute lasts
    until someone unmutes.
    """
    result = await ctx.services.alert_settings.mute(
        bound, backup_id, user_id=ctx.user_id, mute=mute
    )
    await ctx.services.timers.cancel(TimerKind.MUTE_END, bound, backup_id)
    if isinstance(result, MuteUnchanged):
        name = (await _backup_names(ctx, bound.workspace_id)).get(backup_id)
        await ctx.reply(mute_unchanged_message(Backup(id=backup_id, name=name), muted=mute))
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
    pick = Pick.MUTE if command.mute else Pick.UNMUTE
    backup_id = await resolve(ctx, bound, command.backup_id, pick)
    if backup_id is None:
        return
    if command.until is not None:
        await timed_mute(ctx, bound, backup_id, command.until)
        return
    await set_mute(ctx, bound, backup_id, command.mute)


async def stale(ctx: SlackContext, command: StaleCmd) -> None:
    bound = await ctx.workspace()
    what = "overdue" if command.overdue else "stale"
    await ctx.require(
        Role.OPERATOR,
        "set when a run counts as unusually long"
        if command.overdue
        else "set when a backup counts as stale",
    )
    limit = "off" if command.off else _limit_words(command.limit_seconds)
    retype = f"alerts {what} {{id}} {limit}"
    backup_id = await resolve(ctx, bound, command.backup_id, Pick.RETYPE, retype=retype)
    if backup_id is None:
        return
    backup = await ctx.services.alert_settings.set_stale(
        bound,
        backup_id,
        user_id=ctx.user_id,
        limit_seconds=command.limit_seconds,
        off=command.off,
        overdue=command.overdue,
    )
    changed = overdue_limit_changed_message if command.overdue else stale_limit_changed_message
    message = changed(ctx.user_id, backup.id, backup.name, command.limit_seconds, command.off)
    try:
        await ctx.post(message)
    except NotInChannel:
        await ctx.reply(message)


def _limit_words(seconds: int | None) -> str:
    """The limit as the grammar reads it (`auto`, `26h`, `1h30m`), to type again."""
    if seconds is None:
        return "auto"
    words = ""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        words += f"{count}{unit}" if count else ""
    return words


HANDLERS = {
    HelpCmd: show_help,
    ConnectCmd: connect,
    DisconnectCmd: disconnect,
    StatusCmd: status,
    AlertsCmd: alerts,
    MuteCmd: mute,
    StaleCmd: stale,
}
