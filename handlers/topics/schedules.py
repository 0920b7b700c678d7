"""Schedules and maintenance windows: `schedule <backup> [on|off [for|until …]]`, and the
schedule toggle, its Undo, Schedule and End window now buttons.

A change by hand closes the backup's maintenance windows (`switch_schedule`); a window is
opened through `handlers.deadlines`, which the Workflow step shares.
"""

from __future__ import annotations

from bot.clock import utcnow
from bot.services.bindings import BoundWorkspace
from bot.services.schedules import ScheduleChange
from bot.services.timers import TimerKind
from bot.skyvia.errors import SkyviaError
from bot.slack.authz import Role
from bot.slack.grammar.commands import ScheduleCmd
from bot.slack.messages import (
    Message,
    Pick,
    refusal_message,
    schedule_changed_announcement,
    schedule_message,
)
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import BackupRef, ScheduleRef, Screen
from bot.slack.messages.timers import window_ending_message, with_pending_ends
from handlers.clicks import Click, claim_once, replace_clicked
from handlers.context import SlackContext
from handlers.deadlines import SWITCH_SCHEDULE, maintenance_window
from handlers.screens import backup_details, backups_page, resolve
from handlers.topic import Topic


async def schedule_status(ctx: SlackContext, bound: BoundWorkspace, backup_id: int) -> Message:
    state = await ctx.services.schedules.status(bound, backup_id)
    ends = await ctx.services.timers.pending(bound.team_id, bound.channel_id)
    windows = [e for e in ends if e.backup_id == backup_id and e.kind == TimerKind.WINDOW_END]
    names = {backup_id: state.backup.name} if state.backup.name else {}
    return with_pending_ends(schedule_message(state.backup, state.active), windows, names)


async def switch_schedule(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, active: bool
) -> ScheduleChange:
    """Switches, then tells the channel who did it (only when something changed).

    A change by hand, even one that finds the schedule as asked, closes the backup's maintenance
    windows (each channel that opened one is told): their ends must not undo it.
    """
    change = await ctx.services.schedules.set_active(
        bound, backup_id, active=active, user_id=ctx.user_id
    )
    await ctx.services.timers.close_windows(
        bound, change.backup.id, user_id=ctx.user_id, active=change.active
    )
    # The cached list (names, the backups list) learns the state, changed or found.
    ctx.services.backups.note_schedule(bound, change.backup.id, change.active)
    if change.changed:
        # The change is made; a private channel without the bot still deserves to know who.
        await ctx.post_or_tell(
            schedule_changed_announcement(ctx.user_id, change.backup, change.active, utcnow())
        )
    return change


# -- command ---------------------------------------------------------------------------------


async def schedule(ctx: SlackContext, command: ScheduleCmd) -> None:
    bound = await ctx.workspace()
    if command.enable is None:
        backup_id = await resolve(ctx, bound, command.backup_id, Pick.SCHEDULE)
        if backup_id is not None:
            await ctx.reply(await schedule_status(ctx, bound, backup_id))
        return
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    pick = Pick.ENABLE_SCHEDULE if command.enable else Pick.DISABLE_SCHEDULE
    backup_id = await resolve(ctx, bound, command.backup_id, pick)
    if backup_id is None:
        return
    if command.window is not None:
        await maintenance_window(ctx, bound, backup_id, command.window)
        return
    change = await switch_schedule(ctx, bound, backup_id, command.enable)
    if not change.changed:
        await ctx.reply(schedule_message(change.backup, change.active, already=True))


# -- buttons ---------------------------------------------------------------------------------


async def _after_toggle(
    ctx: SlackContext, bound: BoundWorkspace, ref: ScheduleRef, change: ScheduleChange
) -> Message:
    """The screen the toggle was on (its payload says which), from fresh Skyvia data; the
    schedule alone if that fails."""
    try:
        if ref.screen is Screen.BACKUPS:
            return await backups_page(ctx, bound, ref.page, ref.text)
        if ref.screen is Screen.DETAILS:
            return await backup_details(ctx, bound, change.backup.id)
    except SkyviaError:
        pass  # the change is made and announced; show at least its new state
    return schedule_message(change.backup, change.active)


async def toggle_schedule(ctx: SlackContext, click: Click) -> None:
    ref = ScheduleRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    async with claim_once(ctx, click):
        change = await switch_schedule(ctx, bound, ref.backup_id, ref.enable)
    await replace_clicked(ctx, click, await _after_toggle(ctx, bound, ref, change))


async def undo_schedule(ctx: SlackContext, click: Click) -> None:
    """Undo on a schedule notice: the opposite toggle, through the same claim and call.

    The notice stays as it is (it records what happened); a new notice tells the channel.
    When someone already switched it back, only the clicker hears "already …".
    """
    ref = ScheduleRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    async with claim_once(ctx, click):
        change = await switch_schedule(ctx, bound, ref.backup_id, ref.enable)
    if not change.changed:
        await ctx.reply(schedule_message(change.backup, change.active, already=True))


async def show_schedule(ctx: SlackContext, click: Click) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await schedule_status(ctx, bound, ref.backup_id))


async def end_window(ctx: SlackContext, click: Click) -> None:
    """End window now: the window's end is due at once (the timers worker enables it)."""
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    if await ctx.services.timers.end_window_now(bound, ref.backup_id):
        await ctx.reply(window_ending_message(ref.backup_id))
        return
    await ctx.reply(
        refusal_message(
            f"Backup {ref.backup_id} has no maintenance window open here.",
            f"`/skyvia schedule {ref.backup_id}` shows its schedule.",
        )
    )


TOPIC = Topic(
    commands={ScheduleCmd: schedule},
    buttons={
        ActionId.SCHEDULE_TOGGLE: toggle_schedule,
        ActionId.SCHEDULE_UNDO: undo_schedule,
        ActionId.SHOW_SCHEDULE: show_schedule,
        ActionId.END_WINDOW: end_window,
    },
)
