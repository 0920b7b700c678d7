"""Storage rows to the services' read models: the one place a row's columns become plain values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.services.channel_pauses import reconnect_lifts
from bot.services.models import BackupLimits, ChannelBinding, RunStep, WatchedRun
from bot.skyvia.models import SnapshotState
from storage.models import Binding, Watch
from storage.repositories import StaleSetting


def channel_binding(
    row: Binding,
    muted_backup_ids: Iterable[int] = (),
    settings: Mapping[int, StaleSetting] | None = None,
) -> ChannelBinding:
    """`settings`: the binding's stale and overdue settings by backup (`by_binding` groups
    what `StalenessRepository.for_bindings` reads); those set by hand become its `limits`."""
    return ChannelBinding(
        channel_id=row.channel_id,
        workspace_id=row.workspace_id,
        connected_by=row.created_by,
        connected_at=row.created_at,
        workspace_name=row.workspace_name,
        alerts_enabled=row.alerts_enabled,
        muted_backup_ids=tuple(sorted(muted_backup_ids)),
        paused=row.paused_reason is not None,
        paused_reason=row.paused_reason,
        reconnect=reconnect_lifts(row.paused_reason),
        uses_default_token=row.token_ciphertext is None,
        mention_ids=row.mention_ids,
        limits=custom_limits(settings or {}),
    )


def custom_limits(settings: Mapping[int, StaleSetting]) -> tuple[BackupLimits, ...]:
    """The limits set by hand, by backup id; `auto` ones (and rows that only hold a stale
    episode) are left out."""
    found = (
        BackupLimits(
            backup_id=backup_id,
            stale_seconds=setting.limit_seconds,
            stale_off=setting.disabled,
            overdue_seconds=setting.overdue_seconds,
            overdue_off=setting.overdue_disabled,
        )
        for backup_id, setting in sorted(settings.items())
    )
    return tuple(limits for limits in found if limits.custom)


def by_binding(
    settings: Mapping[tuple[int, int], StaleSetting],
) -> dict[int, dict[int, StaleSetting]]:
    """`StalenessRepository.for_bindings`'s rows grouped by binding, then by backup."""
    grouped: dict[int, dict[int, StaleSetting]] = {}
    for (binding_id, backup_id), setting in settings.items():
        grouped.setdefault(binding_id, {})[backup_id] = setting
    return grouped


def watched_run(row: Watch) -> WatchedRun:
    return WatchedRun(
        team_id=row.team_id,
        message_ts=row.message_ts,
        card_thread_ts=row.card_thread_ts,
        channel_id=row.channel_id,
        backup_id=row.backup_id,
        snapshot_id=row.snapshot_id,
        started_by=row.started_by,
        started_at=row.started_at,
        backup_name=row.backup_name,
        state=SnapshotState(row.last_state) if row.last_state else None,
        step=(
            RunStep(
                row.step_execution_id,
                row.step_token_ciphertext,
                row.step_taken_at,
                row.workflow_title,
            )
            if row.step_execution_id and row.step_token_ciphertext and row.step_taken_at
            else None
        ),
    )
