"""Puts a section's starting state into the bot's database, through the repositories.

Bindings and watches are written directly rather than through `/skyvia connect` and
`/skyvia snapshot`: at 1,000 channels and 5,000 watches the commands would take minutes of the
benchmark's budget and measure the command path, which the ack section already measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benchmarks.stack import TEAM_ID
from bot.simulator.state import SimulatorState
from storage.db import Database
from storage.repositories import BindingRepository, StalenessRepository, WatchRepository

ADMIN_USER = "U0BENCHADMIN"


@dataclass(frozen=True)
class ChannelSettings:
    """What `alerts mention` and `alerts overdue <backup> <limit>` would have set in a channel."""

    channel_id: str
    mentions: Sequence[str]
    overdue_seconds: int | None
    """A fixed limit on each of `backups`; None: `auto`, the default (nothing is written)."""
    backups: Sequence[int]


@dataclass(frozen=True)
class WatchSeed:
    channel_id: str
    message_ts: str
    workspace_id: int
    backup_id: int
    backup_name: str
    snapshot_id: int
    started_by: str


async def bind_channels(
    database_url: str,
    channels: Sequence[tuple[str, int]],
    *,
    alerts: bool,
    since: datetime | None = None,
) -> None:
    """Binds each (channel, workspace) with the default token; `alerts=False` turns them off."""
    now = since or datetime.now(UTC)
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            bindings = BindingRepository(session)
            for channel_id, workspace_id in channels:
                await bindings.upsert(
                    team_id=TEAM_ID,
                    channel_id=channel_id,
                    workspace_id=workspace_id,
                    workspace_name=None,
                    token_ciphertext=None,
                    created_by=ADMIN_USER,
                    now=now,
                )
                if not alerts:
                    await bindings.set_alerts(TEAM_ID, channel_id, False, now)
    finally:
        await db.dispose()


async def tune_channels(database_url: str, channels: Sequence[ChannelSettings]) -> None:
    """Mentions and fixed overdue limits, as the commands write them (bound channels only)."""
    now = datetime.now(UTC)
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            bindings, limits = BindingRepository(session), StalenessRepository(session)
            for channel in channels:
                binding = await bindings.get(TEAM_ID, channel.channel_id)
                if binding is None:
                    raise LookupError(f"channel {channel.channel_id} is not bound")
                await bindings.set_mentions(TEAM_ID, channel.channel_id, channel.mentions, now)
                if channel.overdue_seconds is None:
                    continue
                for backup_id in channel.backups:
                    await limits.set_overdue(
                        binding.id, backup_id, channel.overdue_seconds, disabled=False
                    )
    finally:
        await db.dispose()


async def add_watches(
    database_url: str, watches: Sequence[WatchSeed], *, last_state: str, next_poll_at: datetime
) -> None:
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            repository = WatchRepository(session)
            for watch in watches:
                await repository.add(
                    team_id=TEAM_ID,
                    channel_id=watch.channel_id,
                    message_ts=watch.message_ts,
                    workspace_id=watch.workspace_id,
                    backup_id=watch.backup_id,
                    backup_name=watch.backup_name,
                    snapshot_id=watch.snapshot_id,
                    started_by=watch.started_by,
                    started_at=next_poll_at,
                    next_poll_at=next_poll_at,
                    last_state=last_state,
                )
    finally:
        await db.dispose()


async def seed_fan_out(
    state: SimulatorState,
    database_url: str,
    *,
    workspaces: int,
    backups_per_workspace: int,
    channels_per_workspace: int,
    prefix: str,
) -> list[int]:
    """Workspaces of never-scheduled backups in the simulator, each bound in its channels with
    alerts on since yesterday (the alert and episode sections); returns the backups' ids."""
    ids = state.add_bulk(workspaces, backups_per_workspace, scheduled_every=0)
    bindings = [
        (f"{prefix}{w:03d}{c:04d}", workspace)
        for w, workspace in enumerate(ids)
        for c in range(channels_per_workspace)
    ]
    await bind_channels(database_url, bindings, alerts=True, since=datetime.now(UTC) - timedelta(1))
    return [b.id for w in ids for b in state.backups_by_workspace[w]]
