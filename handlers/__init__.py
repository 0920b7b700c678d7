"""Slack-facing layer: `register_all(app, container)` wires every listener group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

if TYPE_CHECKING:
    from bot.container import Container


def register_all(app: AsyncApp, container: Container) -> None:
    from handlers import actions, commands, errors, events, home, views

    commands.register(app, container)
    actions.register(app, container)
    views.register(app, container)
    home.register(app, container)
    events.register(app, container)
    app.error(errors.handle_error)
