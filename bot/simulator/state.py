"""The simulator's whole world, and the controls tests and the admin API drive it with.

All methods are synchronous and the server runs on one event loop, so a request or a control
call never sees a half-made change and no lock is needed. Snapshot states are computed lazily
from the simulated clock; scheduled runs are created lazily too, when a backup is next looked at,
so thousands of backups cost nothing while nobody asks about them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Unpack

from bot.simulator.clock import SimClock
from bot.simulator.faults import FaultControls, Faults
from bot.simulator.records import SimBackup, SimSnapshot, SimWorkspace, SnapshotFilters
from bot.simulator.runs import age_runs, default_log, final_state, make_snapshot
from bot.simulator.seed import (
    FAILURE_LOGS,
    BulkOptions,
    Seed,
    SeedBackup,
    SeedWorkspace,
    bulk_seed,
    default_seed,
    load_seed,
)
from bot.simulator.tokens import TokenSpec, default_tokens, normalize_tokens
from bot.skyvia.models import SnapshotState

DEFAULT_SCHEDULE_INTERVAL = 3600.0
"""Simulated seconds between scheduled runs: at speed 50 that is 72 s, beyond any test."""

MAX_SCHEDULE_CATCH_UP = 20
"""After a long jump of the clock, only this many missed scheduled runs are created."""
HELD_FOR = timedelta(days=1)
"""How long a held run (`hold_running`) goes on when nobody finishes it."""
FIRST_HISTORY_SNAPSHOT_ID = 5001
FIRST_LIVE_SNAPSHOT_ID = 7001
"""Runs started after start-up get ids from here (the examples in docs/reference/ use 7001)."""


class UnknownId(LookupError):
    def __init__(self, kind: str, id: int) -> None:
        super().__init__(f"{kind} {id} not found")
        self.kind = kind
        self.id = id


class SimulatorState(FaultControls):
    """Workspaces, backups, snapshots, tokens, clock and faults of one simulator."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        tokens: TokenSpec | None = None,
        seed: Seed | Mapping[str, Any] | str | Path | None = None,
        schedule_interval: float | None = DEFAULT_SCHEDULE_INTERVAL,
        random_seed: int | None = 0,
    ) -> None:
        self._initial_speed = speed
        self._initial_tokens = normalize_tokens(tokens if tokens is not None else default_tokens())
        if not self._initial_tokens:
            raise ValueError("the simulator needs at least one token")
        self._seed = load_seed(dict(seed) if isinstance(seed, Mapping) else seed) if seed else None
        self._initial_schedule_interval = schedule_interval
        self._random_seed = random_seed
        self.reset()

    def __repr__(self) -> str:
        return (
            f"SimulatorState(workspaces={len(self.workspaces)}, backups={len(self.backups)}, "
            f"speed={self.clock.speed})"
        )

    # Lifecycle

    def reset(self) -> None:
        """Back to the start: seed data, initial tokens and speed, no faults, no calls counted."""
        self.rng = random.Random(self._random_seed)
        self.clock = SimClock(self._initial_speed)
        self.real_time_dates = False  # the console's: wall-clock dates in the API
        self.report_rows = False  # the console's: a finished run's successRows / errorRows
        self.tokens: dict[str, frozenset[int] | None] = dict(self._initial_tokens)
        self.schedule_interval = self._initial_schedule_interval
        self.faults = Faults(rng=random.Random(self._random_seed))
        self.workspaces: dict[int, SimWorkspace] = {}
        self.backups: dict[int, SimBackup] = {}
        self.backups_by_workspace: dict[int, list[SimBackup]] = {}
        self.snapshots: dict[int, SimSnapshot] = {}
        self._last_workspace_id = 0
        self._last_backup_id = 0
        self._next_snapshot_id = FIRST_HISTORY_SNAPSHOT_ID
        self.add_data(self._seed or default_seed())
        self._next_snapshot_id = max(self._next_snapshot_id, FIRST_LIVE_SNAPSHOT_ID)

    @property
    def token(self) -> str:
        """The first configured token: what a newcomer or a test uses."""
        return next(iter(self._initial_tokens))

    def now(self) -> datetime:
        return self.clock.now()

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)

    def advance(self, seconds: float) -> None:
        """Jump the simulated clock; runs and schedules move on as if that time had passed."""
        self.clock.advance(seconds)

    def set_schedule_interval(self, seconds: float | None) -> None:
        """Simulated seconds between scheduled runs; None stops scheduled runs altogether."""
        if seconds is not None and seconds <= 0:
            raise ValueError("schedule interval must be positive (or None to disable)")
        now = self.now()
        for backup in self.backups.values():
            self._catch_up(backup, now)
            backup.schedule_anchor = now
        self.schedule_interval = seconds

    # Tokens

    def add_token(self, token: str, workspaces: Iterable[int] | None = None) -> None:
        """Allow `token` on `workspaces` (None: every workspace, like an account-wide token)."""
        if not token:
            raise ValueError("token must not be empty")
        self.tokens[token] = frozenset(workspaces) if workspaces is not None else None

    def remove_token(self, token: str) -> None:
        self.tokens.pop(token, None)

    def token_allows(self, token: str | None, workspace_id: int | None) -> bool:
        """Whether `token` is valid, and (given a workspace) covers it."""
        if token is None or token not in self.tokens:
            return False
        scope = self.tokens[token]
        return scope is None or workspace_id is None or workspace_id in scope

    def visible_workspaces(self, token: str) -> list[SimWorkspace]:
        scope = self.tokens.get(token)
        return [w for w in self.workspaces.values() if scope is None or w.id in scope]

    # Data

    def add_data(self, seed: Seed | Mapping[str, Any] | str | Path) -> list[int]:
        """Add the workspaces and backups of a seed; returns the workspace ids."""
        parsed = load_seed(dict(seed) if isinstance(seed, Mapping) else seed)
        return [self._add_seed_workspace(w).id for w in parsed.workspaces]

    def _add_seed_workspace(self, seed: SeedWorkspace) -> SimWorkspace:
        workspace = self.workspaces.get(seed.id) if seed.id else None
        if workspace is None:
            workspace = self.add_workspace(seed.name, id=seed.id, is_personal=seed.is_personal)
        for backup in seed.backups:
            self._add_seed_backup(workspace.id, backup)
        return workspace

    def _add_seed_backup(self, workspace_id: int, seed: SeedBackup) -> SimBackup:
        return self.add_backup(
            workspace_id,
            seed.name,
            id=seed.id,
            scheduled=seed.scheduled,
            run_seconds=seed.run_seconds,
            history=seed.history,
            fail_rate=seed.fail_rate,
        )

    def add_workspace(
        self, name: str | None, *, id: int | None = None, is_personal: bool = False
    ) -> SimWorkspace:
        if id is None:
            id = self._last_workspace_id + 1
        if id in self.workspaces:
            raise ValueError(f"workspace {id} already exists")
        self._last_workspace_id = max(self._last_workspace_id, id)
        workspace = SimWorkspace(id=id, name=name, is_personal=is_personal)
        self.workspaces[id] = workspace
        self.backups_by_workspace[id] = []
        return workspace

    def add_backup(
        self,
        workspace_id: int,
        name: str | None,
        *,
        id: int | None = None,
        scheduled: bool = False,
        run_seconds: float = 20.0,
        history: int = 0,
        fail_rate: float = 0.0,
    ) -> SimBackup:
        """A backup, with `history` finished snapshots in the past (every 6 simulated hours)."""
        if workspace_id not in self.workspaces:
            raise UnknownId("workspace", workspace_id)
        if id is None:
            id = self._last_backup_id + 1
        if id in self.backups:
            raise ValueError(f"backup {id} already exists")
        self._last_backup_id = max(self._last_backup_id, id)
        now = self.now()
        created = now - timedelta(
            days=30 + self.rng.randint(0, 300), minutes=self.rng.randint(0, 1439)
        )
        backup = SimBackup(
            id=id,
            workspace_id=workspace_id,
            name=name,
            created=created,
            modified=created + timedelta(days=self.rng.randint(0, 29)),
            scheduled=scheduled,
            run_seconds=run_seconds,
            fail_rate=fail_rate,
            schedule_anchor=now,
        )
        self.backups[id] = backup
        self.backups_by_workspace[workspace_id].append(backup)
        self._add_history(backup, history, now)
        return backup

    def add_bulk(
        self, workspaces: int, backups_per_workspace: int, **options: Unpack[BulkOptions]
    ) -> list[int]:
        """Many workspaces of many backups, for benchmarks (`bulk_seed`); the new workspace ids."""
        return self.add_data(bulk_seed(workspaces, backups_per_workspace, **options))

    def _add_history(self, backup: SimBackup, count: int, now: datetime) -> None:
        for i in range(count, 0, -1):
            created = now - timedelta(hours=6 * i, minutes=self.rng.randint(0, 30))
            failed = self.rng.random() < 0.25
            snapshot = make_snapshot(
                self.rng,
                backup,
                self._next_snapshot_id,
                created,
                by_schedule=backup.scheduled or self.rng.random() < 0.5,
                fail_log=self.rng.choice(FAILURE_LOGS) if failed else None,
                run_seconds=backup.run_seconds * self.rng.uniform(0.5, 3.0),
            )
            self._next_snapshot_id += 1
            self._store(backup, snapshot)

    # Lookups (the API's view; each raises UnknownId)

    def workspace(self, workspace_id: int) -> SimWorkspace:
        try:
            return self.workspaces[workspace_id]
        except KeyError:
            raise UnknownId("workspace", workspace_id) from None

    def backup(self, workspace_id: int, backup_id: int) -> SimBackup:
        self.workspace(workspace_id)
        backup = self.backups.get(backup_id)
        if backup is None or backup.workspace_id != workspace_id:
            raise UnknownId("backup", backup_id)
        self._catch_up(backup, self.now())
        return backup

    def _backup_by_id(self, backup_id: int) -> SimBackup:
        backup = self.backups.get(backup_id)
        if backup is None:
            raise UnknownId("backup", backup_id)
        self._catch_up(backup, self.now())
        return backup

    def snapshot(self, snapshot_id: int, backup_id: int | None = None) -> SimSnapshot:
        snapshot = self.snapshots.get(snapshot_id)
        if snapshot is None or (backup_id is not None and snapshot.backup_id != backup_id):
            raise UnknownId("snapshot", snapshot_id)
        return snapshot

    def snapshots_of(self, backup_id: int) -> list[SimSnapshot]:
        """Every snapshot of a backup, running ones included, oldest first."""
        return list(self._backup_by_id(backup_id).snapshots)

    def active_snapshot(self, backup_id: int) -> SimSnapshot | None:
        return self._backup_by_id(backup_id).active(self.now())

    def finished_snapshots(
        self, backup: SimBackup, **filters: Unpack[SnapshotFilters]
    ) -> list[SimSnapshot]:
        """What `GET .../snapshots` lists now (`SimBackup.finished` has the filters)."""
        return backup.finished(self.now(), **filters)

    # Runs

    def start_snapshot(self, backup_id: int, *, by_schedule: bool = False) -> SimSnapshot:
        """What `POST .../snapshots` does: a new run, even if another one is active."""
        backup = self._backup_by_id(backup_id)
        return self._start(backup, self.now(), by_schedule=by_schedule)

    def run_scheduled_now(
        self, backup_id: int, *, fail: bool = False, log: str | None = None
    ) -> SimSnapshot:
        """Start a run as the schedule would (runBySchedule=true), optionally bound to fail."""
        backup = self._backup_by_id(backup_id)
        if fail:
            backup.fail_next.appendleft(log or FAILURE_LOGS[0])
        return self._start(backup, self.now(), by_schedule=True)

    def fail_next(self, backup_id: int, log: str | None = None, *, count: int = 1) -> None:
        """The next `count` runs of the backup, however started, fail with `log`."""
        backup = self._backup_by_id(backup_id)
        for _ in range(count):
            backup.fail_next.append(log or FAILURE_LOGS[0])

    def recover(self, backup_id: int) -> SimSnapshot:
        """Forgets the backup's pending failures and starts a scheduled run that succeeds."""
        self._backup_by_id(backup_id).fail_next.clear()
        return self.run_scheduled_now(backup_id)

    def age_runs(self, backup_id: int, by: timedelta) -> int:
        """Moves the backup's finished runs `by` into the past (see `runs.age_runs`)."""
        return age_runs(self._backup_by_id(backup_id), self.now(), by)

    def hold_running(self, snapshot_id: int, since: timedelta) -> SimSnapshot:
        """The run started `since` ago and goes on until it is finished (`finish_snapshot`):
        a run that takes unusually long, without waiting hours for one."""
        snapshot = self.snapshot(snapshot_id)
        snapshot.created -= since
        snapshot.queued -= since
        snapshot.started -= since
        snapshot.ended = self.now() + HELD_FOR
        return snapshot

    def finish_snapshot(
        self,
        snapshot_id: int,
        state: SnapshotState | str = SnapshotState.SUCCEEDED,
        log: str | None = None,
    ) -> SimSnapshot:
        """End a run now as Succeeded, Failed or Canceled; a finished run is left as it is."""
        outcome = final_state(state)
        snapshot = self.snapshot(snapshot_id)
        now = self.now()
        if not snapshot.is_finished(now):
            snapshot.finish(now, outcome, log or default_log(outcome, snapshot))
        return snapshot

    def finish_all_running(self, state: SnapshotState | str = SnapshotState.SUCCEEDED) -> int:
        """End every unfinished run now; returns how many."""
        outcome = final_state(state)
        now = self.now()
        count = 0
        for backup in self.backups.values():
            self._catch_up(backup, now)
            for snapshot in backup.snapshots:
                if not snapshot.is_finished(now):
                    snapshot.finish(now, outcome, default_log(outcome, snapshot))
                    count += 1
        return count

    def set_schedule(self, workspace_id: int, backup_id: int, active: bool) -> SimBackup:
        backup = self.backup(workspace_id, backup_id)
        if backup.scheduled != active:
            now = self.now()
            backup.scheduled = active
            backup.modified = now
            backup.schedule_anchor = now
        return backup

    def _start(self, backup: SimBackup, at: datetime, *, by_schedule: bool) -> SimSnapshot:
        fail_log: str | None = None
        if backup.fail_next:
            fail_log = backup.fail_next.popleft()
        elif backup.fail_rate and self.rng.random() < backup.fail_rate:
            fail_log = self.rng.choice(FAILURE_LOGS)
        snapshot = make_snapshot(
            self.rng,
            backup,
            self._next_snapshot_id,
            at,
            by_schedule=by_schedule,
            fail_log=fail_log,
            run_seconds=backup.run_seconds,
        )
        self._next_snapshot_id += 1
        self._store(backup, snapshot)
        return snapshot

    def _store(self, backup: SimBackup, snapshot: SimSnapshot) -> None:
        backup.snapshots.append(snapshot)
        self.snapshots[snapshot.id] = snapshot

    def _catch_up(self, backup: SimBackup, now: datetime) -> None:
        """Create the scheduled runs that fell due since the backup was last looked at."""
        if not backup.scheduled or self.schedule_interval is None:
            return
        anchor = backup.schedule_anchor or now
        interval = timedelta(seconds=self.schedule_interval)
        due = int((now - anchor) / interval)
        if due <= 0:
            return
        for n in range(max(1, due - MAX_SCHEDULE_CATCH_UP + 1), due + 1):
            self._start(backup, anchor + n * interval, by_schedule=True)
        backup.schedule_anchor = anchor + due * interval

    def summary(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": now.isoformat(),
            "speed": self.clock.speed,
            "scheduleInterval": self.schedule_interval,
            "workspaces": len(self.workspaces),
            "backups": len(self.backups),
            "snapshots": len(self.snapshots),
            "running": sum(1 for s in self.snapshots.values() if not s.is_finished(now)),
        }
