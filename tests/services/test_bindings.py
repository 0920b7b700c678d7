"""Channel bindings as a use case: connect checks the token first, resolve is per channel.

The commands that drive this service are covered end to end in
tests/handlers/commands/test_bindings.py; here each rule is shown once, against the simulator
and a real database.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.services.bindings import BindingService
from bot.services.errors import NotBound, TokenRejected, WorkspaceNotFound
from bot.services.models import ChannelBinding, WatchedRun
from bot.simulator import RunningSimulator
from bot.slack.messages.refusals import refusal_words
from storage.db import Database
from storage.repositories import AuditRepository, WatchRepository
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM, WORKSPACE

OWN_TOKEN = "own-token-of-workspace-124"


CARD_TS = "1700000000.000100"


async def audit(db: Database) -> list[tuple[str, str, str]]:
    async with db.session() as session:
        entries = await AuditRepository(session).recent(TEAM)
    return [(e.action, e.target, e.result) for e in reversed(entries)]


async def watch_started(db: Database, user_id: str) -> datetime:
    """Snapshot 7001 of BACKUP, started now by `user_id` in CHANNEL, is watched; returns now."""
    now = datetime.now(UTC)
    async with db.session() as session:
        await WatchRepository(session).add(
            team_id=TEAM,
            channel_id=CHANNEL,
            message_ts=CARD_TS,
            workspace_id=WORKSPACE,
            backup_id=BACKUP,
            backup_name="Nightly CRM",
            snapshot_id=7001,
            started_by=user_id,
            started_at=now,
            next_poll_at=now,
        )
    return now


async def connect(
    service: BindingService, workspace_id: int = WORKSPACE, **kwargs: str
) -> ChannelBinding:
    args = {"team_id": TEAM, "channel_id": CHANNEL, "user_id": ADMIN, "token": None, **kwargs}
    return await service.connect(workspace_id=workspace_id, **args)  # type: ignore[arg-type]


async def test_resolve_is_per_channel_and_uses_the_default_token(
    binding_service: BindingService, simulator: RunningSimulator, db: Database
) -> None:
    await connect(binding_service)
    bound = await binding_service.resolve(TEAM, CHANNEL)
    assert (bound.workspace_id, bound.workspace_name) == (WORKSPACE, "Operations")
    assert bound.token == simulator.token and simulator.token not in repr(bound)
    with pytest.raises(NotBound):
        await binding_service.resolve(TEAM, OTHER_CHANNEL)
    assert await audit(db) == [("connect", f"workspace {WORKSPACE}", "ok")]


async def test_a_channel_token_is_checked_then_kept_for_that_channel_only(
    binding_service: BindingService, simulator: RunningSimulator
) -> None:
    simulator.state.add_token(OWN_TOKEN, [124])
    await connect(binding_service, 124, token=OWN_TOKEN)
    assert (await binding_service.resolve(TEAM, CHANNEL)).token == OWN_TOKEN
    await connect(binding_service, channel_id=OTHER_CHANNEL)
    assert (await binding_service.resolve(TEAM, OTHER_CHANNEL)).token == simulator.token


async def test_a_rejected_token_or_unknown_workspace_binds_nothing_and_is_audited(
    binding_service: BindingService, db: Database
) -> None:
    with pytest.raises(TokenRejected) as rejected:
        await connect(binding_service, 124, token="not-a-skyvia-token")
    assert "rejected the access token for workspace 124" in refusal_words(rejected.value)[0]
    with pytest.raises(WorkspaceNotFound) as missing:
        await connect(binding_service, 999)
    assert "Workspace 999 was not found" in refusal_words(missing.value)[0]
    with pytest.raises(NotBound):
        await binding_service.resolve(TEAM, CHANNEL)
    assert await audit(db) == [
        ("connect", "workspace 124", "rejected token"),
        ("connect", "workspace 999", "not found"),
    ]


async def test_disconnect_stops_the_channels_watches(
    binding_service: BindingService, db: Database
) -> None:
    await connect(binding_service)
    await watch_started(db, ADMIN)
    gone = await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN)
    assert (gone.workspace_id, gone.stopped_watches) == (WORKSPACE, 1)
    with pytest.raises(NotBound):
        await binding_service.resolve(TEAM, CHANNEL)
    with pytest.raises(NotBound):
        await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN)


async def test_connect_and_status_return_read_models_not_rows(
    binding_service: BindingService, db: Database
) -> None:
    binding = await connect(binding_service)
    assert type(binding) is ChannelBinding and dataclasses.is_dataclass(binding)
    assert (binding.channel_id, binding.workspace_id) == (CHANNEL, WORKSPACE)
    assert (binding.workspace_name, binding.connected_by) == ("Operations", ADMIN)
    assert binding.uses_default_token and binding.alerts_enabled and not binding.paused
    now = await watch_started(db, MEMBER)

    status = await binding_service.status(TEAM, CHANNEL)
    assert status.binding == binding
    assert status.watches == [
        WatchedRun(
            CHANNEL,
            BACKUP,
            7001,
            MEMBER,
            now,
            "Nightly CRM",
            team_id=TEAM,
            message_ts=CARD_TS,
        )
    ]
    assert (await binding_service.status(TEAM, OTHER_CHANNEL)).binding is None
