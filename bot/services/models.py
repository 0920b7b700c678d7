"""Read models: what the use cases return about the bot's own state, never ORM rows.

Plain frozen dataclasses, built by the services from storage rows, so callers (the Slack
handlers and Block Kit builders) neither see a database session nor import `storage`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from datetime import datetime

from bot.skyvia.models import SnapshotState


@dataclass(frozen=True)
class ChannelBinding:
    """A channel's binding to a Skyvia workspace, with its alert settings. Never holds the token."""

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
class WatchedRun:
    """A snapshot started from Slack whose outcome the bot will post in the channel.

    What `status` and the App Home list, and what the announcer needs to update its card
    (`message_ts`) and reply in its thread.
    """

    channel_id: str
    backup_id: int
    snapshot_id: int
    started_by: str
    started_at: datetime
    backup_name: str | None = None
    state: SnapshotState | None = None
    """The last state seen, None before the first poll."""
    _: KW_ONLY
    team_id: str
    message_ts: str
    """The card's `ts`: the message updated on each state change, and the outcome's thread."""
