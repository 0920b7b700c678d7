"""backups [page], backup, snapshots, snapshot, schedule [on|off].

Each screen is rendered by one function here, used by the command and by the buttons in
`handlers.actions`, so a page reached by typing and a page reached by clicking are the same.
The workspace is always the channel's binding (`ctx.workspace()`); it is resolved before the
role check, so a request from an unbound channel costs no Slack or Skyvia call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.services.backup_names import Ambiguous
from bot.services.backups import SnapshotQuery
from bot.services.bindings import BoundWorkspace
from bot.services.errors import NotInChannel
from bot.services.schedules import ScheduleChange
from bot.services.snapshots import (
    AlreadyActive,
    CardRefused,
    StartedSnapshot,
    Watched,
    card_ledger_key,
)
from bot.services.timers import TimerKind
from bot.slack.authz import Role
from bot.slack.delivery.errors import error_code, refused_outright
from bot.slack.delivery.keys import DeliveryKey
from bot.slack.grammar.parsing import (
    BackupCmd,
    BackupName,
    BackupRef,
    BackupsCmd,
    ScheduleCmd,
    SnapshotCmd,
    SnapshotsCmd,
)
from bot.slack.messages import (
    Message,
    Pick,
    active_snapshot_exists_message,
    backup_details_message,
    backups_page_message,
    candidates_message,
    card_pending_message,
    schedule_changed_announcement,
    schedule_message,
    snapshot_card,
    snapshot_log_message,
    snapshots_page_message,
)
from bot.slack.messages.payloads import SnapshotFilters
from bot.slack.messages.timers import with_pending_ends
from handlers.commands.timers import maintenance_window
from handlers.context import SlackContext

START_SNAPSHOT = "start a snapshot"
SWITCH_SCHEDULE = "turn a backup's schedule on or off"


# -- screens shared with the buttons ---------------------------------------------------------


async def backups_page(
    ctx: SlackContext, bound: BoundWorkspace, page: int, text: str | None = None
) -> Message:
    listing = await ctx.services.backups.page(bound, page, text)
    muted = await ctx.services.alert_settings.muted(bound)
    return backups_page_message(listing, bound.workspace_id, bound.workspace_name, muted)


async def backup_details(ctx: SlackContext, bound: BoundWorkspace, backup_id: int) -> Message:
    details = await ctx.services.backups.details(bound, backup_id)
    return backup_details_message(
        details.backup, details.schedule_active, details.active_run, details.last_snapshots
    )


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


async def snapshot_log(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, snapshot_id: int
) -> Message:
    found = await ctx.services.backups.snapshot_log(bound, backup_id, snapshot_id)
    return snapshot_log_message(found.backup, found.snapshot)


async def schedule_status(ctx: SlackContext, bound: BoundWorkspace, backup_id: int) -> Message:
    state = await ctx.services.schedules.status(bound, backup_id)
    ends = await ctx.services.timers.pending(bound.team_id, bound.channel_id)
    windows = [e for e in ends if e.backup_id == backup_id and e.kind == TimerKind.WINDOW_END]
    names = {backup_id: state.backup.name} if state.backup.name else {}
    return with_pending_ends(schedule_message(state.backup, state.active), windows, names)


# -- changes shared with the buttons ---------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """A run started from a failure's message: its card goes to that message's thread."""

    snapshot_id: int
    thread_ts: str | None
    """None when the click named no usable thread: the card then goes to the channel."""


async def start_snapshot(
    ctx: SlackContext,
    bound: BoundWorkspace,
    backup_id: int,
    *,
    even_if_active: bool = False,
    retry: Retry | None = None,
) -> Watched | AlreadyActive:
    """Steps 1-3 of docs/reference/guarantees.md#a-snapshot-started-from-slack.

    An active run is reported to the user, and nothing is started. A `retry` posts the card in
    the failure's thread, saying what it retries and linking back to it. The card carries its
    delivery key in the message metadata, so a post whose answer was lost is found again; a
    card Slack refused is posted by the watcher, and the user is told it follows.
    """

    result = await ctx.services.snapshots.start(
        bound,
        backup_id,
        user_id=ctx.user_id,
        post_card=partial(post_snapshot_card, ctx, retry),
        even_if_active=even_if_active,
        card_thread_ts=retry.thread_ts if retry is not None else None,
    )
    if isinstance(result, AlreadyActive):
        watch = result.watch
        link = await ctx.permalink(watch.channel_id, watch.message_ts) if watch else None
        message = active_snapshot_exists_message(
            result.backup,
            result.active_run,
            watch=watch,
            channel_id=ctx.channel_id,
            permalink=link,
        )
        await ctx.reply(message)
    elif result.watch.message_ts is None:
        await ctx.reply(card_pending_message(result.started.backup, result.started.run.run_id))
    return result


def _card_of(
    started: StartedSnapshot,
    retry_of: int | None = None,
    link: str | None = None,
    workflow: str | None = None,
) -> Message:
    return snapshot_card(
        backup_id=started.backup.id,
        backup_name=started.backup.name,
        snapshot_id=started.run.run_id,
        state=started.run.state,
        started_by=started.started_by,
        started_at=started.started_at,
        now=utcnow(),
        retry_of=retry_of,
        retried_link=link,
        workflow=workflow,
    )


async def post_snapshot_card(
    ctx: SlackContext,
    retry: Retry | None,
    started: StartedSnapshot,
    *,
    workflow: str | None = None,
) -> str:
    """Posts the card with its delivery key in the metadata; a refusal means nothing posted.

    A run a Workflow Builder step started names its `workflow` on the card."""
    key = DeliveryKey(*card_ledger_key(ctx.team_id, ctx.channel_id, started.run.run_id))
    extra: dict[str, Any] = {"metadata": key.metadata()}
    if retry is None:
        card = _card_of(started, workflow=workflow)
    elif retry.thread_ts is None:
        card = _card_of(started, retry.snapshot_id)
    else:
        link = await ctx.permalink(ctx.channel_id, retry.thread_ts)
        card = _card_of(started, retry.snapshot_id, link)
        extra["thread_ts"] = retry.thread_ts
    try:
        return await ctx.post(card, **extra)
    except SlackApiError as exc:
        if refused_outright(exc):
            raise CardRefused(error_code(exc)) from exc
        raise


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
        announcement = schedule_changed_announcement(
            ctx.user_id, change.backup, change.active, utcnow()
        )
        try:
            await ctx.post(announcement)
        except NotInChannel:
            # The change is made; a private channel without the bot still deserves to know who.
            await ctx.reply(announcement)
    return change


# -- commands --------------------------------------------------------------------------------


async def resolve(
    ctx: SlackContext,
    bound: BoundWorkspace,
    ref: BackupRef,
    pick: Pick,
    *,
    filters: SnapshotFilters | None = None,
    retype: str = "",
) -> int | None:
    """The backup id a command names; when a name fits several, offers them and returns None.

    `pick` is what the command was going to do, which each candidate's button does (or, for
    `Pick.RETYPE`, the command `retype` to type with each one's id). A snapshot is not started
    on part of a name: that one backup is offered the same way, named back.
    """
    found = await ctx.services.backups.resolve(
        bound,
        ref.text if isinstance(ref, BackupName) else ref,
        whole_name=pick is Pick.RUN_SNAPSHOT,
    )
    if isinstance(found, Ambiguous):
        offer = candidates_message(
            found.typed, found.candidates, pick, filters=filters, retype=retype
        )
        await ctx.reply(offer)
        return None
    return found


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


HANDLERS = {
    BackupsCmd: backups,
    BackupCmd: backup,
    SnapshotsCmd: snapshots,
    SnapshotCmd: snapshot,
    ScheduleCmd: schedule,
}
