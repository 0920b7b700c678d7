"""The `/skyvia` slash command: ack at once, parse, then hand the typed command to its handler.

Each topic module exports `HANDLERS` (command type -> coroutine); this module only dispatches,
so adding a subcommand never touches the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.grammar.parsing import parse_command
from handlers.commands import backups, bindings, digests, health, mentions, subscriptions
from handlers.context import Services, SlackContext
from handlers.listener import acked_listener

CommandHandler = Callable[[SlackContext, Any], Awaitable[None]]


def all_handlers() -> dict[type, CommandHandler]:
    handlers: dict[type, CommandHandler] = {}
    for module in _MODULES:
        handlers.update(module.HANDLERS)
    return handlers


_MODULES: list[Any] = [bindings, backups, health, mentions, digests, subscriptions]


def register(app: AsyncApp, services: Services) -> None:
    handlers = all_handlers()

    async def on_skyvia(ctx: SlackContext, body: dict[str, Any]) -> None:
        command = parse_command(body.get("text") or "")
        await handlers[type(command)](ctx, command)

    app.command("/skyvia")(acked_listener(services, on_skyvia))
