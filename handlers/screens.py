"""Screens and look-ups several topics show, so a page reached by typing and by clicking is one.

The backups list and a backup's details are redrawn by the schedule toggle and the row menu
as well as shown by their commands; a snapshot's log is opened from an alert, from App Home
and by command; a backup typed by name is resolved (or its candidates offered) the same way by
every command that takes one. Each function takes the channel's binding (`ctx.workspace()`),
never a value from a button.
"""

from __future__ import annotations

from bot.services.backup_names import Ambiguous
from bot.services.bindings import BoundWorkspace
from bot.services.errors import DomainError
from bot.slack.grammar.commands import BackupName, BackupRef
from bot.slack.messages import (
    Message,
    Pick,
    backup_details_message,
    backups_page_message,
    candidates_message,
    snapshot_log_message,
)
from bot.slack.messages.payloads import SnapshotFilters
from handlers.context import SlackContext


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


async def snapshot_log(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, snapshot_id: int
) -> Message:
    found = await ctx.services.backups.snapshot_log(bound, backup_id, snapshot_id)
    return snapshot_log_message(found.backup, found.snapshot)


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


async def backup_names(ctx: SlackContext, workspace_id: int) -> dict[int, str]:
    """Names for the backups a screen holds by id, without a Skyvia call: as the alert scanner
    last saw them, and the list kept for name look-ups; an id without a name is shown alone."""
    names = await ctx.services.snapshots.backup_names(workspace_id)
    try:
        bound = await ctx.workspace()
    except DomainError:  # e.g. paused: the scanner's names still serve
        return names
    return {**names, **ctx.services.backups.cached_names(bound)}
