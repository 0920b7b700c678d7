"""Read-only views of the bot's own state, as the builders need them.

Builders take these instead of storage rows or service results so that `bot/slack/messages` depends
on nothing but Slack's models and Skyvia's: handlers map their results onto these at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.skyvia.models import SnapshotState


@dataclass(frozen=True)
class BindingView:
    """A channel's binding to a Skyvia workspace. Never holds the token."""

    channel_id: str
    workspace_id: int
    connected_by: str
    """Slack user id of whoever ran `connect`."""
    connected_at: datetime
    workspace_name: str | None = None
    alerts_enabled: bool = True
    muted_backup_ids: tuple[int, ...] = ()
    paused: bool = False
    paused_reason: str | None = None
    """Why alerts stopped, in plain words (e.g. "the bot was removed from the channel")."""
    uses_default_token: bool = False


@dataclass(frozen=True)
class WatchView:
    """A snapshot started from Slack whose outcome the bot will post in the channel."""

    channel_id: str
    backup_id: int
    snapshot_id: int
    started_by: str
    started_at: datetime
    backup_name: str | None = None
    state: SnapshotState | None = None
    """The last state seen, None before the first poll."""
