"""Button clicks: Run snapshot, schedule toggle, Details, Snapshots, Show log, paging, mute.

Every listener acks first, then works inside `_listener`, which turns any failure into the
one error message (letting it escape to Bolt could lose the ack). A button's value only names
a backup or snapshot: the workspace and token come from the binding of the channel the click
came from, so a forged value can at most point at another backup of that same workspace.

Buttons that change something are claimed first (`_once`, through `ClickClaims`): two clicks
on the same button of the same message within a few seconds act once, on any replica.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services.bindings import BoundWorkspace
from bot.services.clicks import ClickedButton
from bot.services.schedules import ScheduleChange
from bot.services.snapshots import StartedUnwatched, Watched
from bot.skyvia.errors import SkyviaError
from bot.slack.authz import Role
from bot.slack.grammar.deadlines import Deadline
from bot.slack.messages import Message, refusal_message, schedule_message
from bot.slack.messages.ids import ActionId
from bot.slack.messages.lifecycle import only_run_message
from bot.slack.messages.payloads import (
    BackupRef,
    BackupsPageRef,
    ConnectRef,
    DisconnectRef,
    HealthPageRef,
    MuteForRef,
    Payload,
    RowAction,
    RowChoice,
    RunAnywayRef,
    RunRef,
    ScheduleRef,
    Screen,
    SnapshotRef,
    SnapshotsPageRef,
    TakeRef,
)
from bot.slack.messages.payloads import message_ts as valid_ts
from bot.slack.messages.takers import shown_takers, taken_message
from bot.slack.messages.timers import window_ending_message
from handlers.commands.backups import (
    START_SNAPSHOT,
    SWITCH_SCHEDULE,
    Retry,
    backup_details,
    backups_page,
    schedule_status,
    snapshot_log,
    snapshots_page,
    start_snapshot,
    switch_schedule,
)
from handlers.commands.bindings import (
    DISCONNECT,
    MUTE_ALERTS,
    finish_disconnect,
    replace_connection,
    set_mute,
)
from handlers.commands.health import health_page, share_health
from handlers.commands.timers import timed_mute
from handlers.context import Services, SlackContext
from handlers.listener import Listener, acked_listener


@dataclass(frozen=True)
class Click:
    """The parts of a `block_actions` payload the handlers use.

    Slack leaves `message` out of clicks on ephemeral messages, so nothing here may depend on
    it being there: what a button needs travels in its own value.
    """

    action_id: str
    value: str | None
    message_ts: str | None
    is_ephemeral: bool
    thread_ts: str | None = None
    """The thread of the clicked channel message (its parent's ts, or its own for a parent),
    validated; None for ephemeral messages, which have no thread to join."""
    shown: dict[str, Any] | None = None
    """The clicked channel message's `text` and `blocks` as Slack sent them (None when Slack
    sent none): what `I'm on it` redraws with who is on it."""

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        message = body.get("message") if isinstance(body.get("message"), dict) else None
        message_ts = container.get("message_ts") or (message or {}).get("ts")
        is_ephemeral = bool(container.get("is_ephemeral"))
        thread = container.get("thread_ts") or (message or {}).get("thread_ts") or message_ts
        return cls(
            action_id=str(action.get("action_id", "")),
            # A menu (overflow, select) sends its choice instead of a button's value.
            value=action.get("value") or (action.get("selected_option") or {}).get("value"),
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
            thread_ts=None if is_ephemeral else valid_ts(thread),
            shown=None
            if message is None or is_ephemeral
            else {"text": message.get("text") or "", "blocks": message.get("blocks") or []},
        )

    def button(self, team_id: str, channel_id: str) -> ClickedButton:
        return ClickedButton(
            team_id, channel_id, self.message_ts or "", self.action_id, self.value or ""
        )


@asynccontextmanager
async def _once(ctx: SlackContext, click: Click) -> AsyncIterator[None]:
    """Claims the click for the double-click window; a failed action gives the claim back.

    The claim is kept when a snapshot was started but could not be recorded as watched: a
    retry would start another.
    """
    claims = ctx.services.clicks
    claim = await claims.claim(click.button(ctx.team_id, ctx.channel_id), ctx.user_id)
    try:
        yield
    except StartedUnwatched:
        raise
    except Exception:
        await claims.release(claim)
        raise


async def _replace_clicked(ctx: SlackContext, click: Click, message: Message) -> None:
    """Updates the clicked message in place: response_url when there is one, else chat.update."""
    if ctx.respond is not None:
        await ctx.update_original(message)
    elif click.message_ts and not click.is_ephemeral:
        await ctx.client.chat_update(**message.kwargs(channel=ctx.channel_id, ts=click.message_ts))
    else:
        await ctx.reply(message)


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


# -- listeners -------------------------------------------------------------------------------


async def run_snapshot(ctx: SlackContext, click: Click) -> None:
    """On a failure (the button carries `retry_of`), the new card joins the clicked thread."""
    ref = RunRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    retry = None if ref.retry_of is None else Retry(ref.retry_of, click.thread_ts)
    async with _once(ctx, click):
        await start_snapshot(ctx, bound, ref.backup_id, retry=retry)


async def run_snapshot_anyway(ctx: SlackContext, click: Click) -> None:
    """From the "already active" message: start a second run, then drop that message.

    The active run is asked again: when it ended since the message was shown, the run started
    is the only one, and the clicker is told so rather than left to believe there are two.
    """
    ref = RunAnywayRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    async with _once(ctx, click):
        result = await start_snapshot(ctx, bound, ref.backup_id, even_if_active=True)
    if isinstance(result, Watched) and ctx.respond is not None:
        await ctx.respond(delete_original=True)
        if not result.alongside:
            await ctx.reply(only_run_message(result.started.backup, ref.active_id))


async def toggle_schedule(ctx: SlackContext, click: Click) -> None:
    ref = ScheduleRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    async with _once(ctx, click):
        change = await switch_schedule(ctx, bound, ref.backup_id, ref.enable)
    await _replace_clicked(ctx, click, await _after_toggle(ctx, bound, ref, change))


async def undo_schedule(ctx: SlackContext, click: Click) -> None:
    """Undo on a schedule notice: the opposite toggle, through the same claim and call.

    The notice stays as it is (it records what happened); a new notice tells the channel.
    When someone already switched it back, only the clicker hears "already …".
    """
    ref = ScheduleRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    async with _once(ctx, click):
        change = await switch_schedule(ctx, bound, ref.backup_id, ref.enable)
    if not change.changed:
        await ctx.reply(schedule_message(change.backup, change.active, already=True))


async def show_schedule(ctx: SlackContext, click: Click) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await schedule_status(ctx, bound, ref.backup_id))


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
    await _replace_clicked(ctx, click, message)


async def page_backups(ctx: SlackContext, click: Click) -> None:
    ref = BackupsPageRef.load(click.value)
    bound = await ctx.workspace()
    await _replace_clicked(ctx, click, await backups_page(ctx, bound, ref.page, ref.text))


async def page_health(ctx: SlackContext, click: Click) -> None:
    ref = HealthPageRef.load(click.value)
    bound = await ctx.workspace()
    await _replace_clicked(ctx, click, await health_page(ctx, bound, ref.page, fresh=False))


async def share_health_page(ctx: SlackContext, click: Click) -> None:
    """Claimed like a change: a post to the channel is one, and a double click must not post
    the page twice."""
    page = HealthPageRef.load(click.value).page
    async with _once(ctx, click):
        await share_health(ctx, page)


async def show_log(ctx: SlackContext, click: Click) -> None:
    ref = SnapshotRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await snapshot_log(ctx, bound, ref.backup_id, ref.snapshot_id))


async def confirm_connect(ctx: SlackContext, click: Click) -> None:
    ref = ConnectRef.load(click.value)
    async with _once(ctx, click):
        await replace_connection(ctx, ref.workspace_id)
    if ctx.respond is not None:  # the question is answered: take it away
        await ctx.respond(delete_original=True)


async def confirm_disconnect(ctx: SlackContext, click: Click) -> None:
    """Disconnect, confirmed after seeing what it leaves behind; only if the channel still has
    the binding the question was about."""
    ref = DisconnectRef.load(click.value)
    await ctx.require(Role.ADMIN, DISCONNECT)
    binding = (await ctx.services.bindings.status(ctx.team_id, ctx.channel_id)).binding
    if binding is None or int(binding.connected_at.timestamp()) != ref.bound_at:
        await ctx.reply(
            refusal_message(
                "This channel was disconnected or connected again since that question.",
                "Run `/skyvia disconnect` again if it should be disconnected now.",
            )
        )
        return
    async with _once(ctx, click):
        await finish_disconnect(ctx)
    if ctx.respond is not None:  # the question is answered: take it away
        await ctx.respond(delete_original=True)


async def _set_mute(ctx: SlackContext, click: Click, mute: bool) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, MUTE_ALERTS)
    async with _once(ctx, click):
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
    async with _once(ctx, click):
        if ref.hours == 0:
            await set_mute(ctx, bound, ref.backup_id, True)
        else:
            span = timedelta(hours=ref.hours)
            deadline = Deadline(word=f"{ref.hours}h", span=span)
            await timed_mute(ctx, bound, ref.backup_id, deadline)


TAKE_ALERT = "take an alert"


async def take_alert(ctx: SlackContext, click: Click) -> None:
    """`I'm on it`: takes the clicked alert for the clicker or, when it showed them on it,
    gives it back (`bot.services.takers`). The workspace is the channel's binding (the alert
    must be in a connected channel), never the value, which only names the backup and the
    alert's snapshot; the alert is the clicked channel message itself. Full members only: a
    guest or someone of another organisation reads along. Not claimed like other changes: the
    click asks for a state (as the alert showed it), so a double click asks for it twice."""
    ref = TakeRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require_insider(TAKE_ALERT)
    alert_ts = valid_ts(click.message_ts)
    if alert_ts is None or click.shown is None:
        await ctx.reply(
            refusal_message(
                "That button only works on an alert in the channel.",
                "Click `I'm on it` on the alert message itself.",
            )
        )
        return
    change = await ctx.services.takers.set_taken(
        bound,
        ctx.user_id,
        take=ctx.user_id not in shown_takers(click.shown),
        alert_ts=alert_ts,
        backup_id=ref.backup_id,
        snapshot_id=ref.snapshot_id,
        shown=click.shown,
    )
    await ctx.reply(taken_message(change.taken, changed=change.changed))


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


async def row_menu(ctx: SlackContext, click: Click) -> None:
    """A choice in a backups list row's menu: handled as a click on the matching button.

    The choice becomes that button's own action id and payload, so it goes through the same
    listener, role check and double-click claim, and a toggle redraws the same list page. So
    does a mute or unmute, whose row's mark and menu change (the buttons it stands for are not
    on the list, so their listener does not redraw it).
    """
    choice = RowChoice.load(click.value)
    action_id, ref = _row_button(choice)
    await ACTIONS[action_id](ctx, replace(click, action_id=str(action_id), value=ref.dump()))
    if choice.do in (RowAction.MUTE, RowAction.UNMUTE):
        bound = await ctx.workspace()
        try:
            message = await backups_page(ctx, bound, choice.page, choice.text)
        except SkyviaError:
            return  # the change is made and told; the list stays as it was
        await _replace_clicked(ctx, click, message)


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


ActionHandler = Callable[[SlackContext, Click], Awaitable[None]]

ACTIONS: dict[ActionId, ActionHandler] = {
    ActionId.RUN_SNAPSHOT: run_snapshot,
    ActionId.RUN_SNAPSHOT_ANYWAY: run_snapshot_anyway,
    ActionId.SCHEDULE_TOGGLE: toggle_schedule,
    ActionId.SCHEDULE_UNDO: undo_schedule,
    ActionId.SHOW_SCHEDULE: show_schedule,
    ActionId.BACKUP_DETAILS: show_details,
    ActionId.SHOW_SNAPSHOTS: show_snapshots,
    ActionId.SHOW_LOG: show_log,
    ActionId.BACKUPS_PAGE_PREV: page_backups,
    ActionId.BACKUPS_PAGE_NEXT: page_backups,
    ActionId.SNAPSHOTS_PAGE_PREV: page_snapshots,
    ActionId.SNAPSHOTS_PAGE_NEXT: page_snapshots,
    ActionId.MUTE_BACKUP: mute_backup,
    ActionId.UNMUTE_BACKUP: unmute_backup,
    ActionId.MUTE_BACKUP_FOR: mute_backup_for,
    ActionId.END_WINDOW: end_window,
    ActionId.TAKE_ALERT: take_alert,
    ActionId.CONFIRM_CONNECT: confirm_connect,
    ActionId.CONFIRM_DISCONNECT: confirm_disconnect,
    ActionId.HEALTH_PAGE_PREV: page_health,
    ActionId.HEALTH_PAGE_NEXT: page_health,
    ActionId.SHARE_HEALTH: share_health_page,
    ActionId.BACKUP_ROW_MENU: row_menu,
}
"""Every button a builder in `bot.slack.messages` emits has its listener here."""


def _listener(services: Services, handler: ActionHandler) -> Listener:
    async def work(ctx: SlackContext, body: dict[str, Any]) -> None:
        await handler(ctx, Click.from_body(body))

    return acked_listener(services, work)


def register(app: AsyncApp, services: Services) -> None:
    """Wires one listener per button action id."""
    for action_id, handler in ACTIONS.items():
        app.action(str(action_id))(_listener(services, handler))
