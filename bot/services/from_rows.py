"""Storage rows to the services' read models: the one place a row's columns become plain values."""

from __future__ import annotations

from collections.abc import Iterable

from bot.services.models import ChannelBinding, RunStep, WatchedRun
from bot.skyvia.models import SnapshotState
from storage.models import Binding, Watch


def channel_binding(row: Binding, muted_backup_ids: Iterable[int] = ()) -> ChannelBinding:
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
        uses_default_token=row.token_ciphertext is None,
    )


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
