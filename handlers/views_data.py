"""Storage rows -> the read-only views the Block Kit builders take (the edge between layers)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.skyvia.models import SnapshotState
from bot.slack.messages import BindingView, WatchView
from storage.models import Binding, Watch


def binding_view(binding: Binding, muted_backup_ids: Iterable[int] = ()) -> BindingView:
    return BindingView(
        channel_id=binding.channel_id,
        workspace_id=binding.workspace_id,
        connected_by=binding.created_by,
        connected_at=binding.created_at,
        workspace_name=binding.workspace_name,
        alerts_enabled=binding.alerts_enabled,
        muted_backup_ids=tuple(sorted(muted_backup_ids)),
        paused=binding.paused_reason is not None,
        paused_reason=binding.paused_reason,
        uses_default_token=binding.token_ciphertext is None,
    )


def watch_view(watch: Watch) -> WatchView:
    return WatchView(
        channel_id=watch.channel_id,
        backup_id=watch.backup_id,
        snapshot_id=watch.snapshot_id,
        started_by=watch.started_by,
        started_at=watch.started_at,
        backup_name=watch.backup_name,
        state=SnapshotState(watch.last_state) if watch.last_state else None,
    )
