"""`health [page]`: every backup's health, worst first, privately; and its paging and
`Share in channel` buttons.

The page is rendered once here for the command and the buttons, so a page reached by typing,
by paging and by sharing is the same. Sharing reads the workspace afresh: Slack does not send
an ephemeral message's content with a click, and a fresh read is what the channel should see
anyway.
"""

from __future__ import annotations

from bot.services.bindings import BoundWorkspace
from bot.slack.grammar.commands import HealthCmd
from bot.slack.messages.common import Message
from bot.slack.messages.health import health_message
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import HealthPageRef
from handlers.clicks import Click, claim_once, replace_clicked
from handlers.context import SlackContext
from handlers.topic import Topic


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


async def page_health(ctx: SlackContext, click: Click) -> None:
    ref = HealthPageRef.load(click.value)
    bound = await ctx.workspace()
    await replace_clicked(ctx, click, await health_page(ctx, bound, ref.page, fresh=False))


async def share_health(ctx: SlackContext, click: Click) -> None:
    """Posts the page to the channel for everyone; anyone who may read it may share it.

    Claimed like a change: a post to the channel is one, and a double click must not post
    the page twice."""
    page = HealthPageRef.load(click.value).page
    async with claim_once(ctx, click):
        bound = await ctx.workspace()
        await ctx.post(await health_page(ctx, bound, page, shared_by=ctx.user_id))


TOPIC = Topic(
    commands={HealthCmd: health},
    buttons={
        ActionId.HEALTH_PAGE_PREV: page_health,
        ActionId.HEALTH_PAGE_NEXT: page_health,
        ActionId.SHARE_HEALTH: share_health,
    },
)
