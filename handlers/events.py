"""Listeners for events (filled in by the issue that owns them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

if TYPE_CHECKING:
    from bot.container import Container


def register(app: AsyncApp, container: Container) -> None:
    """Wires this group's listeners."""
