"""`health [page]`: every backup's health, worst first, privately, with `Share in channel`.

The page is rendered here for the command and for its buttons (`handlers.actions`), so a page
reached by typing, by paging and by sharing is the same. Sharing reads the workspace afresh:
Slack does not send an ephemeral message's content with a click, and a fresh read is what the
channel should see anyway.
"""

from __future__ import annotations

from bot.services.bindings import BoundWorkspace
from bot.slack.grammar.parsing import HealthCmd
from bot.slack.messages.common import Message
from bot.slack.messages.health import health_message
from handlers.context import SlackContext


async def health_page(
    ctx: SlackContext,
    bound: BoundWorkspace,
    page: int,
    *,
    shared_by: str | None = None,
    fresh: bool = True,
) -> Message:
    """`fresh=False` for a page turn: the last minute's reading of the workspace will do."""
    found = await ctx.services.health.workspace(bound, fresh=fresh)
    return health_message(found, page, shared_by=shared_by)


async def health(ctx: SlackContext, cmd: HealthCmd) -> None:
    bound = await ctx.workspace()
    await ctx.reply(await health_page(ctx, bound, cmd.page))


async def share_health(ctx: SlackContext, page: int) -> None:
    """Posts the page to the channel for everyone; anyone who may read it may share it."""
    bound = await ctx.workspace()
    await ctx.post(await health_page(ctx, bound, page, shared_by=ctx.user_id))


HANDLERS = {HealthCmd: health}
