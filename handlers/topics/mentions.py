"""`alerts mention <@user|@group>... | off`: who this channel's failure alerts call for."""

from __future__ import annotations

from bot.slack.authz import Role
from bot.slack.grammar.commands import MentionCmd
from bot.slack.messages.alerts import mentions_changed_message, mentions_unchanged_message
from handlers.context import SlackContext
from handlers.topic import Topic


async def mention(ctx: SlackContext, command: MentionCmd) -> None:
    """Admins only, like `alerts on|off`; the channel is told, as with every alert setting."""
    await ctx.require(Role.ADMIN, "choose who failure alerts mention")
    changed = await ctx.services.mentions.set(
        team_id=ctx.team_id,
        channel_id=ctx.channel_id,
        user_id=ctx.user_id,
        mention_ids=command.mention_ids,
    )
    if not changed:  # a repeat: only the person hears it, the channel already knows
        await ctx.reply(mentions_unchanged_message(command.mention_ids))
        return
    await ctx.post(mentions_changed_message(ctx.user_id, command.mention_ids))


TOPIC = Topic(commands={MentionCmd: mention})
