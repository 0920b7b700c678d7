"""Starting a snapshot from Slack: by command, by button (a failure's retry among them), from
App Home and by Workflow step, all through `start_snapshot` or its card.

Steps 1-3 of docs/reference/guarantees.md#a-snapshot-started-from-slack live here once, so
every way in posts the same card with the same delivery key and tells the user the same things.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.services.bindings import BoundWorkspace
from bot.services.snapshots import (
    CARD_TIMEOUT,
    AlreadyActive,
    CardRefused,
    StartedSnapshot,
    Watched,
    card_ledger_key,
)
from bot.slack.delivery.errors import error_code, refused_outright
from bot.slack.delivery.keys import DeliveryKey
from bot.slack.messages import (
    Message,
    active_snapshot_exists_message,
    card_pending_message,
    snapshot_card,
)
from handlers.context import SlackContext

CARD_TURN_WITHIN = CARD_TIMEOUT / 2
"""Seconds a card waits for its turn at the channel's pace: past it the card is owed to the
outbox, so a card is never cut off by `CARD_TIMEOUT` before it was even sent (an unknown
outcome, which only reading the channel back settles)."""

START_SNAPSHOT = "start a snapshot"
"""What a refused role check says was asked, by command, button, App Home or Workflow step."""


@dataclass(frozen=True)
class Retry:
    """A run started from a failure's message: its card goes to that message's thread."""

    snapshot_id: int
    thread_ts: str | None
    """None when the click named no usable thread: the card then goes to the channel."""


async def start_snapshot(
    ctx: SlackContext,
    bound: BoundWorkspace,
    backup_id: int,
    *,
    even_if_active: bool = False,
    retry: Retry | None = None,
) -> Watched | AlreadyActive:
    """Steps 1-3 of docs/reference/guarantees.md#a-snapshot-started-from-slack.

    An active run is reported to the user, and nothing is started. A `retry` posts the card in
    the failure's thread, saying what it retries and linking back to it. The card carries its
    delivery key in the message metadata, so a post whose answer was lost is found again; a
    card Slack refused (or that got no turn at the channel's pace in time) is owed to the
    outbox, and the user is told it follows.
    """

    result = await ctx.services.snapshots.start(
        bound,
        backup_id,
        user_id=ctx.user_id,
        post_card=partial(post_snapshot_card, ctx, retry),
        even_if_active=even_if_active,
        card_thread_ts=retry.thread_ts if retry is not None else None,
    )
    if isinstance(result, AlreadyActive):
        watch = result.watch
        link = await ctx.permalink(watch.channel_id, watch.message_ts) if watch else None
        message = active_snapshot_exists_message(
            result.backup,
            result.active_run,
            watch=watch,
            channel_id=ctx.channel_id,
            permalink=link,
        )
        await ctx.reply(message)
    elif result.watch.message_ts is None:
        await ctx.reply(card_pending_message(result.started.backup, result.started.run.run_id))
    return result


def _card_of(
    started: StartedSnapshot,
    retry_of: int | None = None,
    link: str | None = None,
    workflow: str | None = None,
) -> Message:
    return snapshot_card(
        backup_id=started.backup.id,
        backup_name=started.backup.name,
        snapshot_id=started.run.run_id,
        state=started.run.state,
        started_by=started.started_by,
        started_at=started.started_at,
        now=utcnow(),
        retry_of=retry_of,
        retried_link=link,
        workflow=workflow,
    )


async def post_snapshot_card(
    ctx: SlackContext,
    retry: Retry | None,
    started: StartedSnapshot,
    *,
    workflow: str | None = None,
) -> str:
    """Posts the card with its delivery key in the metadata; a refusal means nothing posted.

    A run a Workflow Builder step started names its `workflow` on the card."""
    key = DeliveryKey(*card_ledger_key(ctx.team_id, ctx.channel_id, started.run.run_id))
    extra: dict[str, Any] = {"metadata": key.metadata()}
    if retry is None:
        card = _card_of(started, workflow=workflow)
    elif retry.thread_ts is None:
        card = _card_of(started, retry.snapshot_id)
    else:
        link = await ctx.permalink(ctx.channel_id, retry.thread_ts)
        card = _card_of(started, retry.snapshot_id, link)
        extra["thread_ts"] = retry.thread_ts
    try:
        return await ctx.post(card, within=CARD_TURN_WITHIN, **extra)
    except SlackApiError as exc:
        if refused_outright(exc):
            raise CardRefused(error_code(exc)) from exc
        raise
