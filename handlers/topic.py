"""What a topic module declares, so that the app is wired in one place (`handlers.wiring`).

A topic (snapshots, schedules, alerts, …) answers its `/skyvia` subcommands and its buttons in
one module; these tables say which. Anything else Slack sends a topic (a modal submission,
events, App Home clicks, Workflow steps) has its own listener shape, so the topic wires that
itself in `register`, still called only from `handlers.wiring`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.messages.ids import ActionId
from handlers.clicks import ButtonHandler
from handlers.context import Services, SlackContext

CommandHandler = Callable[[SlackContext, Any], Awaitable[None]]
"""What a topic does with one typed `/skyvia` command (`bot.slack.grammar.commands`), once acked."""

Register = Callable[[AsyncApp, Services], None]


@dataclass(frozen=True)
class Topic:
    """One topic's listeners, by what Slack sends; a topic with none of a kind leaves it empty."""

    commands: Mapping[type, CommandHandler] = field(default_factory=dict)
    """Command type -> handler: the subcommands this topic answers."""
    buttons: Mapping[ActionId, ButtonHandler] = field(default_factory=dict)
    """Action id -> handler: the channel buttons (and menus) this topic answers."""
    register: Register | None = None
    """Wires the listeners of other shapes (modal, events, App Home, Workflow steps)."""
