"""The shape every `/skyvia` and button listener shares: ack, build the context, work, and
render any error once.

`ack()` comes first so Slack's three-second limit never depends on Skyvia or the database;
errors go to `handle_error` (`handlers/errors.py`) rather than to Bolt, which could lose the
ack (see that module's docstring).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.context import Services, SlackContext
from handlers.errors import handle_error

Work = Callable[[SlackContext, dict[str, Any]], Awaitable[None]]
"""What a listener does once acked: given the context and Slack's request body."""

Listener = Callable[[AsyncAck, dict[str, Any], AsyncWebClient, AsyncRespond], Awaitable[None]]


def acked_listener(services: Services, work: Work) -> Listener:
    """A Bolt listener that acks at once, then runs `work`; any error is rendered once."""

    async def listener(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        try:
            await work(SlackContext.from_body(services, body, client, respond), body)
        except Exception as error:
            await handle_error(error, body, respond, client)

    return listener
