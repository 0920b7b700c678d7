"""`I'm on it` on a failure or stale alert: who is handling it, shown on the alert itself."""

from __future__ import annotations

from bot.slack.messages import refusal_message
from bot.slack.messages.ids import ActionId
from bot.slack.messages.payloads import TakeRef
from bot.slack.messages.payloads import message_ts as valid_ts
from bot.slack.messages.takers import shown_takers, taken_message
from handlers.clicks import Click
from handlers.context import SlackContext
from handlers.topic import Topic

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


TOPIC = Topic(buttons={ActionId.TAKE_ALERT: take_alert})
