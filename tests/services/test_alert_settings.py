"""A bound channel's alert settings: each change once, audited, and only for a bound channel.

The commands that drive this service are covered end to end in
tests/handlers/commands/test_bindings.py; here each rule is shown once, against the simulator
and a real database.
"""

from __future__ import annotations

import pytest

from bot.services.alert_settings import AlertSettings, MuteChanged, MuteUnchanged
from bot.services.bindings import BindingService
from bot.services.errors import NotBound
from bot.simulator import RunningSimulator
from bot.skyvia.errors import SkyviaNotFound
from storage.db import Database
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER, TEAM
from tests.services.test_bindings import audit, connect


async def test_alerts_can_only_be_switched_for_a_bound_channel(
    binding_service: BindingService, alert_settings: AlertSettings, db: Database
) -> None:
    with pytest.raises(NotBound):
        await alert_settings.set_alerts(
            team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN, enabled=False
        )
    await connect(binding_service)
    await alert_settings.set_alerts(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN, enabled=False)
    assert not (await binding_service.resolve(TEAM, CHANNEL)).alerts_enabled
    assert ("alerts off", "channel", "ok") in await audit(db)


async def test_mute_changes_once_and_a_repeat_asks_skyvia_nothing(
    binding_service: BindingService,
    alert_settings: AlertSettings,
    db: Database,
    simulator: RunningSimulator,
) -> None:
    await connect(binding_service)
    bound = await binding_service.resolve(TEAM, CHANNEL)
    simulator.state.reset_call_counts()

    muted = await alert_settings.mute(bound, BACKUP, user_id=MEMBER, mute=True)
    assert isinstance(muted, MuteChanged) and muted.muted
    assert muted.backup.name == "Nightly CRM"
    again = await alert_settings.mute(bound, BACKUP, user_id=ADMIN, mute=True)
    assert again == MuteUnchanged(backup_id=BACKUP, muted=True)
    assert simulator.state.call_counts() == {"GET /workspaces/{workspaceId}/backups/{backupId}": 1}
    status = await binding_service.status(TEAM, CHANNEL)
    assert status.binding is not None and status.binding.muted_backup_ids == (BACKUP,)

    unmuted = await alert_settings.mute(bound, BACKUP, user_id=MEMBER, mute=False)
    assert isinstance(unmuted, MuteChanged) and not unmuted.muted
    repeat = await alert_settings.mute(bound, BACKUP, user_id=MEMBER, mute=False)
    assert repeat == MuteUnchanged(backup_id=BACKUP, muted=False)
    target = f"backup {BACKUP}"
    assert [a for a in await audit(db) if a[0] != "connect"] == [
        ("mute", target, "ok"),
        ("mute", target, "unchanged"),
        ("unmute", target, "ok"),
        ("unmute", target, "unchanged"),
    ]


async def test_muting_an_unknown_backup_records_nothing(
    binding_service: BindingService, alert_settings: AlertSettings
) -> None:
    await connect(binding_service)
    bound = await binding_service.resolve(TEAM, CHANNEL)
    with pytest.raises(SkyviaNotFound):
        await alert_settings.mute(bound, 999, user_id=MEMBER, mute=True)
    status = await binding_service.status(TEAM, CHANNEL)
    assert status.binding is not None and status.binding.muted_backup_ids == ()


async def test_mute_after_a_disconnect_is_refused(
    binding_service: BindingService, alert_settings: AlertSettings
) -> None:
    await connect(binding_service)
    bound = await binding_service.resolve(TEAM, CHANNEL)
    await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id=ADMIN)
    with pytest.raises(NotBound):
        await alert_settings.mute(bound, BACKUP, user_id=MEMBER, mute=True)
