"""`digest daily HH:MM|off`: a channel's daily health digest, at the setter's local time.

Admins only, like the other channel-wide alert settings. The time zone is the setter's, read
from Slack (`users.info` `tz`) when they set it and kept with the digest. A change is told to
the channel; setting what is set, or stopping what is not, is answered to the person only.
"""

from __future__ import annotations

from bot.slack.authz import Role
from bot.slack.grammar.commands import DigestCmd
from bot.slack.messages.digests import (
    digest_off_message,
    digest_set_message,
    digest_shown_message,
    digest_unchanged_message,
    no_digest_message,
)
from handlers.context import SlackContext
from handlers.deadlines import user_time_zone
from handlers.topic import Topic


async def digest(ctx: SlackContext, command: DigestCmd) -> None:
    bound = await ctx.workspace()
    digests = ctx.services.digests
    if command.at is None and not command.off:
        await ctx.reply(digest_shown_message(await digests.current(ctx.team_id, ctx.channel_id)))
        return
    await ctx.require(Role.ADMIN, "set the daily digest")
    if command.off:
        dropped = await digests.off(ctx.team_id, ctx.channel_id)
        if dropped is None:
            await ctx.reply(no_digest_message())
        else:
            await ctx.post_or_tell(digest_off_message(ctx.user_id, dropped))
        return
    assert command.at is not None
    tz = await user_time_zone(ctx)
    setting, changed = await digests.set(bound, at=command.at, tz=tz, user_id=ctx.user_id)
    if not changed:
        await ctx.reply(digest_unchanged_message(setting))
        return
    await ctx.post_or_tell(digest_set_message(ctx.user_id, setting))


TOPIC = Topic(commands={DigestCmd: digest})
