"""Slack-facing layer: `register_all(app, services)` wires every listener (`handlers.wiring`).

One module per topic (`handlers/topics/`) answers its `/skyvia` subcommands and its buttons;
what several topics share lives beside them, each module named for what it holds: the request
context (`context`), the one error handler (`errors`), the acked listener (`listener`), a
click (`clicks`), shared screens (`screens`), starting a snapshot (`snapshot_start`), typed
ends and the maintenance window (`deadlines`). Handlers may import the Slack adapters, the
services and the Skyvia models; never storage or the container.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.context import Services


def register_all(app: AsyncApp, services: Services) -> None:
    # Imported here: importing `handlers.context` (the container does) must not load every topic.
    from handlers.wiring import register_all as wire

    wire(app, services)
