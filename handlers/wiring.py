"""Every listener is wired here, once: the topics' commands and buttons, their other listeners,
and the one error handler.

`/skyvia` is a single Slack command: it is acked at once, parsed, and the typed command goes to
the topic that declared its type. Each channel button gets its own listener
(`handlers.clicks.button_listener`). A command type or action id declared by two topics is a
mistake this module refuses to start with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp

from bot.slack.grammar.parsing import parse_command
from bot.slack.messages.ids import ActionId
from handlers import errors
from handlers.clicks import ButtonHandler, button_listener
from handlers.context import Services, SlackContext
from handlers.listener import acked_listener
from handlers.topic import CommandHandler, Topic
from handlers.topics import (
    alerts,
    bindings,
    digests,
    events,
    health,
    home,
    mentions,
    schedules,
    snapshots,
    steps,
    subscriptions,
    takers,
)

TOPICS: tuple[Topic, ...] = (
    bindings.TOPIC,
    snapshots.TOPIC,
    schedules.TOPIC,
    alerts.TOPIC,
    mentions.TOPIC,
    health.TOPIC,
    digests.TOPIC,
    subscriptions.TOPIC,
    takers.TOPIC,
    home.TOPIC,
    steps.TOPIC,
    events.TOPIC,
)


def command_handlers() -> dict[type, CommandHandler]:
    """Command type -> handler, over every topic."""
    table: dict[type, CommandHandler] = {}
    for topic in TOPICS:
        _add(table, topic.commands)
    return table


def button_handlers() -> dict[ActionId, ButtonHandler]:
    """Action id -> handler, over every topic; the backups list's row menu stands for buttons
    of three topics, so it is given the finished table."""
    table: dict[ActionId, ButtonHandler] = {}
    for topic in TOPICS:
        _add(table, topic.buttons)
    _add(table, {ActionId.BACKUP_ROW_MENU: snapshots.row_menu(table)})
    return table


K = TypeVar("K")
V = TypeVar("V")


def _add(table: dict[K, V], more: Mapping[K, V]) -> None:
    twice = table.keys() & more.keys()
    if twice:
        raise RuntimeError(f"declared by two topics: {sorted(map(str, twice))}")
    table.update(more)


def register_all(app: AsyncApp, services: Services) -> None:
    commands = command_handlers()

    async def on_skyvia(ctx: SlackContext, body: dict[str, Any]) -> None:
        command = parse_command(body.get("text") or "")
        await commands[type(command)](ctx, command)

    app.command("/skyvia")(acked_listener(services, on_skyvia))
    for action_id, handler in button_handlers().items():
        app.action(str(action_id))(button_listener(services, handler))
    for topic in TOPICS:
        if topic.register is not None:
            topic.register(app, services)
    app.error(errors.handle_error)
