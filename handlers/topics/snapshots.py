"""Backups and their snapshots: `backups [page]`, `backup`, `snapshots`, `snapshot`, and the
buttons of those screens and of the snapshot card and failure alert (Run snapshot, Run anyway,
Details, Snapshots, Show log, paging, the backups list's row menu).

The workspace is always the channel's binding (`ctx.workspace()`); it is resolved before the
role check, so a request from an unbound channel costs no Slack or Skyvia call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.services.backups import SnapshotQuery
from bot.services.bindings import BoundWorkspace
from bot.services.snapshots import Watched
from bot.skyvia.errors import SkyviaError
from bot.slack.authz import Role
from bot.slack.grammar.commands import BackupCmd, BackupsCmd, SnapshotCmd, SnapshotsCmd
from bot.slack.messages import Message, Pick, snapshots_page_message
from bot.slack.messages.ids import ActionId
from bot.slack.messages.lifecycle import only_run_message
from bot.slack.messages.payloads import (
    BackupRef,
    BackupsPageRef,
    Payload,
    RowAction,
    RowChoice,
    RunAnywayRef,
    RunRef,
    ScheduleRef,
    Screen,
    SnapshotFilters,
    SnapshotRef,
    SnapshotsPageRef,
)
from handlers.clicks import ButtonHandler, Click, claim_once, replace_clicked
from handlers.context import SlackContext
from handlers.screens import backup_details, backups_page, resolve, snapshot_log
from handlers.snapshot_start import START_SNAPSHOT, Retry, start_snapshot
from handlers.topic import Topic


async def snapshots_page(
    ctx: SlackContext,
    bound: BoundWorkspace,
    backup_id: int,
    page: int,
    filters: SnapshotFilters,
) -> Message:
    query = SnapshotQuery(failed=filters.failed, since=filters.since, until=filters.until)
    found = await ctx.services.backups.snapshots(bound, backup_id, page, query)
    return snapshots_page_message(
        found.backup,
        found.snapshots,
        found.page,
        found.has_more,
        filters,
        asked=found.asked,
        pages=found.pages,
    )


# -- commands --------------------------------------------------------------------------------


async def backups(ctx: SlackContext, command: BackupsCmd) -> None:
    bound = await ctx.workspace()
    await ctx.reply(await backups_page(ctx, bound, command.page, command.text))


async def backup(ctx: SlackContext, command: BackupCmd) -> None:
    bound = await ctx.workspace()
    backup_id = await resolve(ctx, bound, command.backup_id, Pick.DETAILS)
    if backup_id is not None:
        await ctx.reply(await backup_details(ctx, bound, backup_id))


async def snapshots(ctx: SlackContext, command: SnapshotsCmd) -> None:
    bound = await ctx.workspace()
    filters = SnapshotFilters(failed=command.failed, since=command.since, until=command.until)
    backup_id = await resolve(ctx, bound, command.backup_id, Pick.SNAPSHOTS, filters=filters)
    if backup_id is not None:
        await ctx.reply(await snapshots_page(ctx, bound, backup_id, command.page, filters))


async def snapshot(ctx: SlackContext, command: SnapshotCmd) -> None:
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    backup_id = await resolve(ctx, bound, command.backup_id, Pick.RUN_SNAPSHOT)
    if backup_id is not None:
        await start_snapshot(ctx, bound, backup_id)


# -- buttons ---------------------------------------------------------------------------------


async def run_snapshot(ctx: SlackContext, click: Click) -> None:
    """On a failure (the button carries `retry_of`), the new card joins the clicked thread."""
    ref = RunRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    retry = None if ref.retry_of is None else Retry(ref.retry_of, click.thread_ts)
    async with claim_once(ctx, click):
        await start_snapshot(ctx, bound, ref.backup_id, retry=retry)


async def run_snapshot_anyway(ctx: SlackContext, click: Click) -> None:
    """From the "already active" message: start a second run, then drop that message.

    The active run is asked again: when it ended since the message was shown, the run started
    is the only one, and the clicker is told so rather than left to believe there are two.
    """
    ref = RunAnywayRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    async with claim_once(ctx, click):
        result = await start_snapshot(ctx, bound, ref.backup_id, even_if_active=True)
    if isinstance(result, Watched) and ctx.respond is not None:
        await ctx.respond(delete_original=True)
        if not result.alongside:
            await ctx.reply(only_run_message(result.started.backup, ref.active_id))


async def show_details(ctx: SlackContext, click: Click) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await backup_details(ctx, bound, ref.backup_id))


async def show_snapshots(ctx: SlackContext, click: Click) -> None:
    ref = SnapshotsPageRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await snapshots_page(ctx, bound, ref.backup_id, ref.page, ref.filters))


async def page_snapshots(ctx: SlackContext, click: Click) -> None:
    ref = SnapshotsPageRef.load(click.value)
    bound = await ctx.workspace()
    message = await snapshots_page(ctx, bound, ref.backup_id, ref.page, ref.filters)
    await replace_clicked(ctx, click, message)


async def page_backups(ctx: SlackContext, click: Click) -> None:
    ref = BackupsPageRef.load(click.value)
    bound = await ctx.workspace()
    await replace_clicked(ctx, click, await backups_page(ctx, bound, ref.page, ref.text))


async def show_log(ctx: SlackContext, click: Click) -> None:
    ref = SnapshotRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await snapshot_log(ctx, bound, ref.backup_id, ref.snapshot_id))


def row_menu(buttons: Mapping[ActionId, ButtonHandler]) -> ButtonHandler:
    """A choice in a backups list row's menu: handled as a click on the matching button.

    The choice becomes that button's own action id and payload, so it goes through the same
    listener, role check and double-click claim, and a toggle redraws the same list page. So
    does a mute or unmute, whose row's mark and menu change (the buttons it stands for are not
    on the list, so their listener does not redraw it). Those buttons belong to other topics
    (schedules, alerts): the wiring hands this menu the app's whole button table instead of
    this topic importing them.
    """

    async def on_choice(ctx: SlackContext, click: Click) -> None:
        choice = RowChoice.load(click.value)
        action_id, ref = _row_button(choice)
        await buttons[action_id](ctx, replace(click, action_id=str(action_id), value=ref.dump()))
        if choice.do in (RowAction.MUTE, RowAction.UNMUTE):
            bound = await ctx.workspace()
            try:
                message = await backups_page(ctx, bound, choice.page, choice.text)
            except SkyviaError:
                return  # the change is made and told; the list stays as it was
            await replace_clicked(ctx, click, message)

    return on_choice


def _row_button(choice: RowChoice) -> tuple[ActionId, Payload]:
    backup = BackupRef(backup_id=choice.backup_id)
    match choice.do:
        case RowAction.RUN:
            return ActionId.RUN_SNAPSHOT, RunRef(backup_id=choice.backup_id)
        case RowAction.ENABLE | RowAction.DISABLE:
            toggle = ScheduleRef(
                backup_id=choice.backup_id,
                enable=choice.do is RowAction.ENABLE,
                screen=Screen.BACKUPS,
                page=choice.page,
                text=choice.text,
            )
            return ActionId.SCHEDULE_TOGGLE, toggle
        case RowAction.SCHEDULE:
            return ActionId.SHOW_SCHEDULE, backup
        case RowAction.DETAILS:
            return ActionId.BACKUP_DETAILS, backup
        case RowAction.MUTE:
            return ActionId.MUTE_BACKUP, backup
        case RowAction.UNMUTE:
            return ActionId.UNMUTE_BACKUP, backup


TOPIC = Topic(
    commands={
        BackupsCmd: backups,
        BackupCmd: backup,
        SnapshotsCmd: snapshots,
        SnapshotCmd: snapshot,
    },
    buttons={
        ActionId.RUN_SNAPSHOT: run_snapshot,
        ActionId.RUN_SNAPSHOT_ANYWAY: run_snapshot_anyway,
        ActionId.BACKUP_DETAILS: show_details,
        ActionId.SHOW_SNAPSHOTS: show_snapshots,
        ActionId.SHOW_LOG: show_log,
        ActionId.BACKUPS_PAGE_PREV: page_backups,
        ActionId.BACKUPS_PAGE_NEXT: page_backups,
        ActionId.SNAPSHOTS_PAGE_PREV: page_snapshots,
        ActionId.SNAPSHOTS_PAGE_NEXT: page_snapshots,
    },
)
"""`ActionId.BACKUP_ROW_MENU` is wired by `handlers.wiring` with `row_menu`: it needs every
topic's buttons."""
