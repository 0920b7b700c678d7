"""Slack-facing layer: `register_all(app, services)` wires every listener group."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.context import Services


def register_all(app: AsyncApp, services: Services) -> None:
    from handlers import actions, commands, errors, events, home, modals, steps

    commands.register(app, services)
    actions.register(app, services)
    modals.register(app, services)
    home.register(app, services)
    events.register(app, services)
    steps.register(app, services)
    app.error(errors.handle_error)
