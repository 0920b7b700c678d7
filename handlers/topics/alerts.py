"""A channel's failure alerts: `alerts on|off`, `alerts mute|unmute <backup> [for|until …]`,
`alerts stale|overdue <backup> <limit>|auto|off`, and the alert's Mute, Unmute and mute-for
menu.

A change is told to the channel, a repeat only to the person; who alerts mention is its own
topic (`handlers.topics.mentions`).
"""

from __future__ import annotations

from datetime import timedelta

from bot.services.alert_settings import MuteResult, MuteUnchanged
from bot.services.bindings import BoundWorkspace
from bot.services.timers import TimerKind
from bot.skyvia.models import Backup
from bot.slack.authz import Role
from bot.slack.grammar.commands import AlertsCmd, MuteCmd, StaleCmd
from bot.slack.grammar.deadlines import Deadline
from bot.slack.messages import (
    Pick,
    alerts_changed_message,
    alerts_unchanged_message,
    mute_changed_message,
)
from bot.slack.messages.ids import ActionId
from bot.slack.messages.overdue import overdue_limit_changed_message
from bot.slack.messages.payloads import BackupRef, MuteForRef
from bot.slack.messages.staleness import stale_limit_changed_message
from bot.slack.messages.timers import (
    mute_unchanged_message,
    timed_mute_message,
)
from handlers.clicks import Click, claim_once
from handlers.context import SlackContext
from handlers.deadlines import resolve_end
from handlers.screens import backup_names, resolve
from handlers.topic import Topic

MUTE_ALERTS = "mute or unmute a backup's alerts"


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
        name = (await backup_names(ctx, bound.workspace_id)).get(backup_id)
        await ctx.reply(mute_unchanged_message(Backup(id=backup_id, name=name), muted=mute))
        return result
    # The mute is recorded; a private channel without the bot still deserves to know who.
    await ctx.post_or_tell(mute_changed_message(ctx.user_id, result.backup, result.muted))
    return result


async def timed_mute(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, end: Deadline
) -> None:
    until = await resolve_end(ctx, end, "alerts mute")
    muted = await ctx.services.timers.mute_until(
        bound, backup_id, user_id=ctx.user_id, until=until, words=end.word
    )
    if muted.repeat:  # the same end again: only the person hears it
        await ctx.reply(mute_unchanged_message(muted.backup, muted.until))
        return
    await ctx.post_or_tell(timed_mute_message(ctx.user_id, muted.backup, until, end.word))


# -- commands --------------------------------------------------------------------------------


async def alerts(ctx: SlackContext, command: AlertsCmd) -> None:
    await ctx.require(Role.ADMIN, "turn failure alerts on or off")
    changed = await ctx.services.alert_settings.set_alerts(
        team_id=ctx.team_id, channel_id=ctx.channel_id, user_id=ctx.user_id, enabled=command.enabled
    )
    if not changed:  # a repeat: only the user hears it, the channel already knows
        await ctx.reply(alerts_unchanged_message(command.enabled))
        return
    await ctx.post(alerts_changed_message(ctx.user_id, command.enabled))


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
    await ctx.post_or_tell(message)


def _limit_words(seconds: int | None) -> str:
    """The limit as the grammar reads it (`auto`, `26h`, `1h30m`), to type again."""
    if seconds is None:
        return "auto"
    words = ""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        words += f"{count}{unit}" if count else ""
    return words


# -- buttons ---------------------------------------------------------------------------------


async def _set_mute(ctx: SlackContext, click: Click, mute: bool) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, MUTE_ALERTS)
    async with claim_once(ctx, click):
        await set_mute(ctx, bound, ref.backup_id, mute)


async def mute_backup(ctx: SlackContext, click: Click) -> None:
    await _set_mute(ctx, click, mute=True)


async def unmute_backup(ctx: SlackContext, click: Click) -> None:
    await _set_mute(ctx, click, mute=False)


async def mute_backup_for(ctx: SlackContext, click: Click) -> None:
    """The alert's mute menu: a timed mute (1 h, 4 h, 24 h) or one until someone unmutes."""
    ref = MuteForRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, MUTE_ALERTS)
    async with claim_once(ctx, click):
        if ref.hours == 0:
            await set_mute(ctx, bound, ref.backup_id, True)
        else:
            span = timedelta(hours=ref.hours)
            deadline = Deadline(word=f"{ref.hours}h", span=span)
            await timed_mute(ctx, bound, ref.backup_id, deadline)


TOPIC = Topic(
    commands={AlertsCmd: alerts, MuteCmd: mute, StaleCmd: stale},
    buttons={
        ActionId.MUTE_BACKUP: mute_backup,
        ActionId.UNMUTE_BACKUP: unmute_backup,
        ActionId.MUTE_BACKUP_FOR: mute_backup_for,
    },
)
