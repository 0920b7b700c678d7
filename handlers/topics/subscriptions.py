"""`subscribe <backupId>|all`, `unsubscribe <backupId>|all`, `subscriptions`: a person's DMs of
this channel's failures and recoveries (bot/services/subscriptions.py says when they go).

Anyone who may read the channel may follow it; every answer goes to the person only.
"""

from __future__ import annotations

from bot.slack.grammar.commands import SubscribeCmd, SubscriptionsCmd
from bot.slack.messages.subscriptions import (
    subscribed_message,
    subscriptions_message,
    unsubscribed_message,
)
from handlers.context import SlackContext
from handlers.topic import Topic


async def subscribe(ctx: SlackContext, command: SubscribeCmd) -> None:
    bound = await ctx.workspace()
    service = ctx.services.subscriptions
    if command.on:
        added = await service.subscribe(bound, ctx.user_id, command.backup_id)
        await ctx.reply(subscribed_message(command.backup_id, added))
        return
    removed = await service.unsubscribe(bound, ctx.user_id, command.backup_id)
    followed = [] if removed else await service.of_user(bound, ctx.user_id)
    await ctx.reply(unsubscribed_message(command.backup_id, removed, followed))


async def subscriptions(ctx: SlackContext, command: SubscriptionsCmd) -> None:
    bound = await ctx.workspace()
    await ctx.reply(
        subscriptions_message(await ctx.services.subscriptions.of_user(bound, ctx.user_id))
    )


TOPIC = Topic(commands={SubscribeCmd: subscribe, SubscriptionsCmd: subscriptions})
