"""Ends people type (`for 2h`, `until 18:00`), as they meant them; and the maintenance window,
the timed change both the `schedule` command and the Workflow step make.

`until 18:00` is read in the time zone of the person typing, which only Slack knows
(`users.info` `tz`), so the grammar leaves the end unresolved and it is resolved here; an end in
the past or more than 30 days away is answered with the usage line like any other bad input.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.services.bindings import BoundWorkspace
from bot.slack.grammar.deadlines import Deadline, DeadlineError
from bot.slack.grammar.usage import UsageError, usage_of
from bot.slack.messages.timers import window_opened_message, window_unchanged_message
from handlers.context import SlackContext

SWITCH_SCHEDULE = "turn a backup's schedule on or off"
"""What a refused role check says was asked, by command, button or Workflow step (a window
turns the schedule off)."""


async def user_time_zone(ctx: SlackContext) -> str | None:
    """The person's IANA zone (`Europe/Berlin`), or None when Slack does not say."""
    try:
        info = await ctx.client.users_info(user=ctx.user_id)
    except SlackApiError:
        return None
    user = info.get("user") or {}
    tz = user.get("tz") if isinstance(user, dict) else None
    return tz if isinstance(tz, str) and tz else None


async def resolve_end(ctx: SlackContext, deadline: Deadline, subcommand: str) -> datetime:
    """The aware UTC end of `deadline` for this person; bad ends raise a `UsageError`."""
    tz = None if deadline.span is not None else await user_time_zone(ctx)
    try:
        return deadline.resolve(utcnow(), tz)
    except DeadlineError as error:
        raise UsageError(f"{error}.", usage_of(subcommand)) from None


async def maintenance_window(
    ctx: SlackContext, bound: BoundWorkspace, backup_id: int, end: Deadline
) -> datetime:
    """Opens the window and tells the channel; returns when it ends."""
    until = await resolve_end(ctx, end, "schedule")
    opened = await ctx.services.timers.open_window(
        bound, backup_id, user_id=ctx.user_id, until=until, words=end.word
    )
    if opened.repeat:  # the same window again: only the person hears it
        await ctx.reply(window_unchanged_message(opened.backup, opened.until))
        return opened.until
    opened_note = window_opened_message(ctx.user_id, opened.backup, until, opened.was_active)
    await ctx.post_or_tell(opened_note)
    return until
