"""A button click as every topic reads it, acts on it once, and redraws what was clicked.

Every button listener acks first, then works inside `button_listener` (through
`acked_listener`), which turns any failure into the one error message (letting it escape to
Bolt could lose the ack). A button's value only names a backup or snapshot: the workspace and
token come from the binding of the channel the click came from, so a forged value can at most
point at another backup of that same workspace.

Buttons that change something are claimed first (`claim_once`, through `ClickClaims`): two
clicks on the same button of the same message within a few seconds act once, on any replica.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.services.clicks import ClickedButton
from bot.services.snapshots import StartedUnwatched
from bot.slack.messages import Message
from bot.slack.messages.payloads import message_ts as valid_ts
from handlers.context import Services, SlackContext
from handlers.listener import Listener, acked_listener


@dataclass(frozen=True)
class Click:
    """The parts of a `block_actions` payload the handlers use.

    Slack leaves `message` out of clicks on ephemeral messages, so nothing here may depend on
    it being there: what a button needs travels in its own value.
    """

    action_id: str
    value: str | None
    message_ts: str | None
    is_ephemeral: bool
    thread_ts: str | None = None
    """The thread of the clicked channel message (its parent's ts, or its own for a parent),
    validated; None for ephemeral messages, which have no thread to join."""
    shown: dict[str, Any] | None = None
    """The clicked channel message's `text` and `blocks` as Slack sent them (None when Slack
    sent none): what `I'm on it` redraws with who is on it."""

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        message = body.get("message") if isinstance(body.get("message"), dict) else None
        message_ts = container.get("message_ts") or (message or {}).get("ts")
        is_ephemeral = bool(container.get("is_ephemeral"))
        thread = container.get("thread_ts") or (message or {}).get("thread_ts") or message_ts
        return cls(
            action_id=str(action.get("action_id", "")),
            # A menu (overflow, select) sends its choice instead of a button's value.
            value=action.get("value") or (action.get("selected_option") or {}).get("value"),
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
            thread_ts=None if is_ephemeral else valid_ts(thread),
            shown=None
            if message is None or is_ephemeral
            else {"text": message.get("text") or "", "blocks": message.get("blocks") or []},
        )

    def button(self, team_id: str, channel_id: str) -> ClickedButton:
        return ClickedButton(
            team_id, channel_id, self.message_ts or "", self.action_id, self.value or ""
        )


ButtonHandler = Callable[[SlackContext, Click], Awaitable[None]]
"""What a topic does with a click on one of its buttons, once acked."""


@asynccontextmanager
async def claim_once(ctx: SlackContext, click: Click) -> AsyncIterator[None]:
    """Claims the click for the double-click window; a failed action gives the claim back.

    The claim is kept when a snapshot was started but could not be recorded as watched: a
    retry would start another.
    """
    claims = ctx.services.clicks
    claim = await claims.claim(click.button(ctx.team_id, ctx.channel_id), ctx.user_id)
    try:
        yield
    except StartedUnwatched:
        raise
    except Exception:
        await claims.release(claim)
        raise


async def replace_clicked(ctx: SlackContext, click: Click, message: Message) -> None:
    """Updates the clicked message in place: response_url when there is one, else chat.update."""
    if ctx.respond is not None:
        await ctx.update_original(message)
    elif click.message_ts and not click.is_ephemeral:
        await ctx.update(message, channel_id=ctx.channel_id, ts=click.message_ts)
    else:
        await ctx.reply(message)


def button_listener(services: Services, handler: ButtonHandler) -> Listener:
    """The Bolt listener of one button: acked at once, the click read, errors rendered once."""

    async def work(ctx: SlackContext, body: dict[str, Any]) -> None:
        await handler(ctx, Click.from_body(body))

    return acked_listener(services, work)
