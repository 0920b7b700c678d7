"""How a simulated run is made up: its timeline, outcome, row counts and log.

A run is New for `NEW_SECONDS`, Queued for `QUEUED_SECONDS`, then Running until it ends; its
state at any moment is computed from these times (`SimSnapshot.state`), never stored.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.simulator.records import FINAL_STATES, SimBackup, SimSnapshot
from bot.simulator.seed import FAILURE_LOGS, success_log
from bot.skyvia.models import SnapshotState

NEW_SECONDS = 1.0
QUEUED_SECONDS = 2.0


def make_snapshot(
    rng: random.Random,
    backup: SimBackup,
    snapshot_id: int,
    created: datetime,
    *,
    by_schedule: bool,
    fail_log: str | None,
    run_seconds: float,
) -> SimSnapshot:
    """A run created at `created`: new, queued, then running for `run_seconds` (shorter when
    it fails), with made-up row counts and a log."""
    queued = created + timedelta(seconds=NEW_SECONDS)
    started = queued + timedelta(seconds=QUEUED_SECONDS)
    rows = rng.randint(500, 50_000)
    if fail_log is not None:
        run_seconds *= rng.uniform(0.2, 0.8)
    return SimSnapshot(
        id=snapshot_id,
        backup_id=backup.id,
        created=created,
        queued=queued,
        started=started,
        ended=started + timedelta(seconds=run_seconds),
        outcome=SnapshotState.FAILED if fail_log is not None else SnapshotState.SUCCEEDED,
        run_by_schedule=by_schedule,
        log=fail_log if fail_log is not None else success_log(rng.randint(3, 40), rows),
        success_rows=rows // 3 if fail_log is not None else rows,
        error_rows=rng.randint(1, 50) if fail_log is not None else 0,
    )


def final_state(state: SnapshotState | str) -> SnapshotState:
    outcome = SnapshotState(state)
    if outcome not in FINAL_STATES:
        raise ValueError(f"a run can only finish as Succeeded, Failed or Canceled, not {state}")
    return outcome


def default_log(outcome: SnapshotState, snapshot: SimSnapshot) -> str:
    """The run's planned log when it ends as planned (a `fail_next` log survives "finish now")."""
    if outcome == snapshot.outcome and snapshot.log:
        return snapshot.log
    if outcome == SnapshotState.FAILED:
        return FAILURE_LOGS[0]
    if outcome == SnapshotState.CANCELED:
        return "Snapshot was canceled by the user."
    return success_log(12, snapshot.success_rows)


def age_runs(backup: SimBackup, now: datetime, by: timedelta) -> int:
    """Moves the backup's finished runs `by` into the past: its last good snapshot gets old
    (a stale backup) while the gaps between runs, its cadence, stay the same."""
    moved = 0
    for snapshot in backup.snapshots:
        if snapshot.ended <= now:
            snapshot.created -= by
            snapshot.queued -= by
            snapshot.started -= by
            snapshot.ended -= by
            moved += 1
    return moved
