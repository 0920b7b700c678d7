"""The simulator's records and how each renders as the OpenAPI DTO it stands for.

DTOs carry exactly the properties of `docs/vendor/skyvia-openapi-backups.json` (its schemas
forbid any other), with dates as ISO 8601 UTC with milliseconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

from bot.skyvia.models import SnapshotState

FINAL_STATES = (SnapshotState.SUCCEEDED, SnapshotState.FAILED, SnapshotState.CANCELED)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class SimWorkspace:
    id: int
    name: str | None
    is_personal: bool = False

    def dto(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "isPersonal": self.is_personal}


@dataclass
class SimSnapshot:
    """One run. Its state at any moment follows from its four timestamps and its outcome.

    created: the request (reported as `queueTime`); queued: New -> Queued; started: Queued ->
    Running (`startTime`); ended: Running -> `outcome` (`endTime`).
    """

    id: int
    backup_id: int
    created: datetime
    queued: datetime
    started: datetime
    ended: datetime
    outcome: SnapshotState
    run_by_schedule: bool
    log: str | None
    success_rows: int = 0
    error_rows: int = 0

    def state_at(self, now: datetime) -> SnapshotState:
        if now >= self.ended:
            return self.outcome
        if now >= self.started:
            return SnapshotState.RUNNING
        if now >= self.queued:
            return SnapshotState.QUEUED
        return SnapshotState.NEW

    def is_finished(self, now: datetime) -> bool:
        return now >= self.ended

    def finish(self, now: datetime, outcome: SnapshotState, log: str | None) -> None:
        """End the run at `now` (kept consistent: nothing ends before it starts)."""
        self.queued = min(self.queued, now)
        self.started = min(self.started, now)
        self.ended = now
        self.outcome = outcome
        self.log = log

    def list_dto(self, now: datetime) -> dict[str, Any]:
        """`BackupSnapshotLogDto`."""
        started = self.started if now >= self.started else None
        return {
            "snapshotId": self.id,
            "queueTime": iso(self.created),
            "startTime": iso(started),
            "endTime": iso(self.ended) if now >= self.ended else None,
            "state": self.state_at(now).value,
            "runBySchedule": self.run_by_schedule,
        }

    def rows_dto(self, now: datetime) -> dict[str, Any]:
        """Row counts, once the run has ended (an extension: Skyvia's excerpt has none)."""
        if not self.is_finished(now):
            return {}
        return {"successRows": self.success_rows, "errorRows": self.error_rows}

    def details_dto(self, now: datetime) -> dict[str, Any]:
        """`BackupSnapshotLogDetailsDto`: the log goes in `result`, and only once finished."""
        return {**self.list_dto(now), "result": self.log if self.is_finished(now) else None}

    def active_dto(self, now: datetime) -> dict[str, Any]:
        """`BackupActiveRunDto`: duration counts simulated seconds since the run started."""
        running_since = self.started if now >= self.started else None
        duration = int((now - running_since).total_seconds()) if running_since else 0
        return {
            "runId": self.id,
            "date": iso(self.created),
            "duration": duration,
            "state": self.state_at(now).value,
        }


class SnapshotFilters(TypedDict, total=False):
    """The query of `GET .../snapshots`, as `SimBackup.finished` takes it."""

    failed: bool | None
    start_date: datetime | None
    end_date: datetime | None
    sort_by: str
    descending: bool


@dataclass
class SimBackup:
    id: int
    workspace_id: int
    name: str | None
    created: datetime
    modified: datetime
    scheduled: bool
    run_seconds: float = 20.0
    fail_rate: float = 0.0
    schedule_anchor: datetime | None = None
    snapshots: list[SimSnapshot] = field(default_factory=list)
    fail_next: deque[str] = field(default_factory=deque)

    def dto(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created": iso(self.created),
            "modified": iso(self.modified),
            "scheduled": self.scheduled,
        }

    def finished(self, now: datetime, **filters: Unpack[SnapshotFilters]) -> list[SimSnapshot]:
        """What `GET .../snapshots` lists: finished runs only.

        `failed=True` keeps failed runs only; `failed=False` is no filter, as the API doc says
        "whether to filter by failed snapshots only". The date range applies to the start time,
        inclusive at both ends.
        """
        failed = filters.get("failed")
        start_date, end_date = filters.get("start_date"), filters.get("end_date")
        found = [
            s
            for s in self.snapshots
            if s.is_finished(now)
            and (not failed or s.outcome == SnapshotState.FAILED)
            and (start_date is None or s.started >= start_date)
            and (end_date is None or s.started <= end_date)
        ]
        descending = filters.get("descending", False)
        if filters.get("sort_by", "startTime") == "snapshotId":
            found.sort(key=lambda s: s.id, reverse=descending)
        else:
            found.sort(key=lambda s: (s.started, s.id), reverse=descending)
        return found

    def active(self, now: datetime) -> SimSnapshot | None:
        """The newest unfinished run; several may run at once when started back to back."""
        for snapshot in reversed(self.snapshots):
            if not snapshot.is_finished(now):
                return snapshot
        return None
