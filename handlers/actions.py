"""Button clicks: Run snapshot, schedule toggle, Details, Snapshots, Show log, paging, mute.

Every listener acks first, then works inside `_listener`, which turns any failure into the
one error message (letting it escape to Bolt could lose the ack). A button's value only names
a backup or snapshot: the workspace and token come from the binding of the channel the click
came from, so a forged value can at most point at another backup of that same workspace.

Buttons that change something are claimed in storage first (`_once`): two clicks on the same
button of the same message within `DOUBLE_CLICK_WINDOW` act once, on any replica.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import utcnow
from bot.services.bindings import BoundWorkspace
from bot.services.errors import DomainError
from bot.services.snapshots import StartedWithoutCard, Watched
from bot.skyvia.errors import SkyviaError
from bot.slack.authz import Role
from bot.slack.ids import ActionId
from bot.slack.messages import Message, mute_changed_message, refusal_message, schedule_message
from bot.slack.payloads import (
    BackupRef,
    BackupsPageRef,
    PayloadError,
    ScheduleRef,
    SnapshotRef,
    SnapshotsPageRef,
)
from handlers.commands.backups import (
    START_SNAPSHOT,
    SWITCH_SCHEDULE,
    backup_details,
    backups_page,
    schedule_status,
    snapshot_log,
    snapshots_page,
    start_snapshot,
    switch_schedule,
)
from handlers.context import NotInChannel, SlackContext
from handlers.errors import handle_error
from storage.repositories import ClickRepository, click_key

if TYPE_CHECKING:
    from bot.container import Container
    from bot.services.schedules import ScheduleChange

DOUBLE_CLICK_WINDOW = timedelta(seconds=30)
"""Long enough to cover a nervous double click and Slack's own resend of a slow interaction,
short enough that clicking the same button again later (the next day's run) just works."""

MUTE_ALERTS = "mute or unmute a backup's alerts"


@dataclass(frozen=True)
class Click:
    """The parts of a `block_actions` payload the handlers use."""

    action_id: str
    value: str | None
    message_ts: str | None
    message: dict[str, Any] | None
    is_ephemeral: bool

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        message = body.get("message") if isinstance(body.get("message"), dict) else None
        return cls(
            action_id=str(action.get("action_id", "")),
            value=action.get("value"),
            message_ts=container.get("message_ts") or (message or {}).get("ts"),
            message=message,
            is_ephemeral=bool(container.get("is_ephemeral")),
        )

    def key(self, team_id: str, channel_id: str) -> str:
        """Same message, same button, same value: one key, whoever clicks."""
        return click_key(
            team_id, channel_id, self.message_ts or "", self.action_id, self.value or ""
        )


class AlreadyClicked(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "That button was clicked a moment ago, so it was not acted on twice.",
            "Wait for the first click's result; click again in a minute to really repeat it.",
        )


@asynccontextmanager
async def _once(ctx: SlackContext, click: Click) -> AsyncIterator[None]:
    """Claims the click for `DOUBLE_CLICK_WINDOW`; a failed action gives the claim back.

    The claim is committed before the action starts, so a second replica sees it. It is kept
    when a snapshot was started but its card could not be posted: a retry would start another.
    """
    key = click.key(ctx.team_id, ctx.channel_id)
    claimed_at = utcnow()
    async with ctx.container.db.session() as session:
        claimed = await ClickRepository(session).claim(
            key, ctx.user_id, claimed_at, DOUBLE_CLICK_WINDOW
        )
    if not claimed:
        raise AlreadyClicked()
    try:
        yield
    except StartedWithoutCard:
        raise
    except Exception:
        async with ctx.container.db.session() as session:
            await ClickRepository(session).release(key, claimed_at)
        raise


async def _replace_clicked(ctx: SlackContext, click: Click, message: Message) -> None:
    """Updates the clicked message in place: response_url when there is one, else chat.update."""
    if ctx.respond is not None:
        await ctx.update_original(message)
    elif click.message_ts and not click.is_ephemeral:
        await ctx.client.chat_update(**message.kwargs(channel=ctx.channel_id, ts=click.message_ts))
    else:
        await ctx.reply(message)


# -- what a clicked message shows, so a toggle can re-render it ---------------------------------


@dataclass(frozen=True)
class BackupsScreen:
    page: int


@dataclass(frozen=True)
class DetailsScreen:
    pass


@dataclass(frozen=True)
class ScheduleScreen:
    pass


Screen = BackupsScreen | DetailsScreen | ScheduleScreen


def _elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in message.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        found += [e for e in block.get("elements") or [] if isinstance(e, dict)]
        if isinstance(block.get("accessory"), dict):
            found.append(block["accessory"])
    return found


def clicked_screen(message: dict[str, Any] | None) -> Screen:
    """Which screen a message is, from its own buttons (the page from its Previous/Next)."""
    elements = _elements(message or {})
    ids = {e.get("action_id") for e in elements}
    if ids & {ActionId.BACKUPS_PAGE_PREV, ActionId.BACKUPS_PAGE_NEXT, ActionId.BACKUP_DETAILS}:
        page = 1
        for element in elements:
            steps: dict[str, int] = {ActionId.BACKUPS_PAGE_PREV: 1, ActionId.BACKUPS_PAGE_NEXT: -1}
            step = steps.get(str(element.get("action_id")))
            if step is None:
                continue
            try:
                page = max(1, BackupsPageRef.load(element.get("value")).page + step)
            except PayloadError:
                continue
            break
        return BackupsScreen(page=page)
    if ActionId.SHOW_SNAPSHOTS in ids:
        return DetailsScreen()
    return ScheduleScreen()


async def _after_toggle(
    ctx: SlackContext, bound: BoundWorkspace, click: Click, change: ScheduleChange
) -> Message:
    """The clicked screen again, from fresh Skyvia data; the schedule alone if that fails."""
    screen = clicked_screen(click.message)
    try:
        if isinstance(screen, BackupsScreen):
            return await backups_page(ctx, bound, screen.page)
        if isinstance(screen, DetailsScreen):
            return await backup_details(ctx, bound, change.backup.id)
    except SkyviaError:
        pass  # the change is made and announced; show at least its new state
    return schedule_message(change.backup, change.active)


# -- listeners -------------------------------------------------------------------------------


async def run_snapshot(ctx: SlackContext, click: Click) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    async with _once(ctx, click):
        await start_snapshot(ctx, bound, ref.backup_id)


async def run_snapshot_anyway(ctx: SlackContext, click: Click) -> None:
    """From the "already active" message: start a second run, then drop that message."""
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    async with _once(ctx, click):
        result = await start_snapshot(ctx, bound, ref.backup_id, even_if_active=True)
    if isinstance(result, Watched) and ctx.respond is not None:
        await ctx.respond(delete_original=True)


async def toggle_schedule(ctx: SlackContext, click: Click) -> None:
    ref = ScheduleRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    async with _once(ctx, click):
        change = await switch_schedule(ctx, bound, ref.backup_id, ref.enable)
    await _replace_clicked(ctx, click, await _after_toggle(ctx, bound, click, change))


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
    await _replace_clicked(ctx, click, await backups_page(ctx, bound, ref.page))


async def show_log(ctx: SlackContext, click: Click) -> None:
    ref = SnapshotRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.reply(await snapshot_log(ctx, bound, ref.backup_id, ref.snapshot_id))


async def _set_mute(ctx: SlackContext, click: Click, mute: bool) -> None:
    ref = BackupRef.load(click.value)
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, MUTE_ALERTS)
    async with _once(ctx, click):
        backup = await ctx.container.skyvia.get_backup(
            bound.token, bound.workspace_id, ref.backup_id
        )
        changed = await ctx.container.bindings.set_mute(
            team_id=ctx.team_id,
            channel_id=ctx.channel_id,
            user_id=ctx.user_id,
            backup_id=ref.backup_id,
            mute=mute,
        )
    if not changed:
        state = "muted" if mute else "not muted"
        await ctx.reply(
            refusal_message(
                f"Alerts for {backup.display_name} ({backup.id}) are already {state} here.",
                "`/skyvia status` shows this channel's muted backups.",
            )
        )
        return
    message = mute_changed_message(ctx.user_id, backup, mute)
    try:
        await ctx.post(message)
    except NotInChannel:
        await ctx.reply(message)


async def mute_backup(ctx: SlackContext, click: Click) -> None:
    await _set_mute(ctx, click, mute=True)


async def unmute_backup(ctx: SlackContext, click: Click) -> None:
    await _set_mute(ctx, click, mute=False)


ActionHandler = Callable[[SlackContext, Click], Awaitable[None]]

ACTIONS: dict[ActionId, ActionHandler] = {
    ActionId.RUN_SNAPSHOT: run_snapshot,
    ActionId.RUN_SNAPSHOT_ANYWAY: run_snapshot_anyway,
    ActionId.SCHEDULE_TOGGLE: toggle_schedule,
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
}
"""Every button a builder in `bot.slack.messages` emits has its listener here."""


def _listener(container: Container, handler: ActionHandler) -> Callable[..., Awaitable[None]]:
    async def listener(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        try:
            ctx = SlackContext.from_body(container, body, client, respond)
            await handler(ctx, Click.from_body(body))
        except Exception as error:
            await handle_error(error, body, respond, client)

    return listener


def register(app: AsyncApp, container: Container) -> None:
    """Wires one listener per button action id."""
    for action_id, handler in ACTIONS.items():
        app.action(str(action_id))(_listener(container, handler))
