"""Channel bindings as a use case: connect checks the token first, resolve is per channel.

The commands that drive this service are covered end to end in
tests/handlers/commands/test_bindings.py; here each rule is shown once, against the simulator
and a real database.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.services.bindings import BindingService
from bot.services.errors import DomainError, NotBound
from bot.simulator import RunningSimulator
from storage.db import Database
from storage.repositories import AuditRepository, WatchRepository
from tests.constants import ADMIN, BACKUP, CHANNEL, OTHER_CHANNEL, TEAM, WORKSPACE

OWN_TOKEN = "own-token-of-workspace-124"


async def audit(db: Database) -> list[tuple[str, str, str]]:
    async with db.session() as session:
        entries = await AuditRepository(session).recent(TEAM)
    return [(e.action, e.target, e.result) for e in reversed(entries)]


async def connect(service: BindingService, workspace_id: int = WORKSPACE, **kwargs: str) -> None:
    args = {"team_id": TEAM, "channel_id": CHANNEL, "user_id": ADMIN, "token": None, **kwargs}
    await service.connect(workspace_id=workspace_id, **args)  # type: ignore[arg-type]


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
    with pytest.raises(DomainError, match="rejected the access token for workspace 124"):
        await connect(binding_service, 124, token="not-a-skyvia-token")
    with pytest.raises(DomainError, match="Workspace 999 was not found"):
        await connect(binding_service, 999)
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
    now = datetime.now(UTC)
    async with db.session() as session:
        await WatchRepository(session).add(
            team_id=TEAM,
            channel_id=CHANNEL,
            message_ts="1700000000.000100",
            workspace_id=WORKSPACE,
            backup_id=BACKUP,
            backup_name="Nightly CRM",
            snapshot_id=7001,
            started_by=ADMIN,
            started_at=now,
            next_poll_at=now,
        )
    gone = await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN)
    assert (gone.workspace_id, gone.stopped_watches) == (WORKSPACE, 1)
    with pytest.raises(NotBound):
        await binding_service.resolve(TEAM, CHANNEL)
    with pytest.raises(NotBound):
        await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN)


async def test_alerts_can_only_be_switched_for_a_bound_channel(
    binding_service: BindingService, db: Database
) -> None:
    with pytest.raises(NotBound):
        await binding_service.set_alerts(
            team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN, enabled=False
        )
    await connect(binding_service)
    await binding_service.set_alerts(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN, enabled=False)
    assert not (await binding_service.resolve(TEAM, CHANNEL)).alerts_enabled
    assert ("alerts off", "channel", "ok") in await audit(db)
