"""Pydantic models of the Skyvia Backups API responses.

They follow Skyvia's OpenAPI excerpt (`docs/vendor/skyvia-openapi-backups.json`) but are
deliberately lenient: unknown fields are kept (Skyvia adds fields without notice), optional
fields may be missing, and an unknown snapshot state is kept as-is instead of failing
validation, because the bot must keep working when Skyvia grows a new state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class SnapshotState(StrEnum):
    """Snapshot lifecycle state; unknown values become pseudo-members rather than errors."""

    NEW = "New"
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELING = "Canceling"
    CANCELED = "Canceled"

    @classmethod
    def _missing_(cls, value: object) -> SnapshotState | None:
        if not isinstance(value, str):
            return None
        for member in cls:
            if member.value.lower() == value.lower():
                return member
        # Keep the unknown value: build a pseudo-member that is not terminal.
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value.upper()
        pseudo._value_ = value
        return pseudo

    @property
    def is_known(self) -> bool:
        return self._value_ in _KNOWN_VALUES

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


_KNOWN_VALUES = frozenset(m.value for m in SnapshotState)
TERMINAL_STATES = frozenset({SnapshotState.SUCCEEDED, SnapshotState.FAILED, SnapshotState.CANCELED})


def _as_utc(value: Any) -> Any:
    """Skyvia sends `...Z`; a naive datetime is taken as UTC so comparisons never mix kinds."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


class SkyviaModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Workspace(SkyviaModel):
    id: int
    name: str | None = None
    is_personal: bool | None = Field(default=None, alias="isPersonal")


class Backup(SkyviaModel):
    id: int
    name: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    scheduled: bool | None = None

    _utc = field_validator("created", "modified", mode="after")(_as_utc)

    @property
    def display_name(self) -> str:
        return self.name or f"Backup {self.id}"


class Snapshot(SkyviaModel):
    """A snapshot from the list or the details endpoint; `log` is read from `log` or `result`."""

    snapshot_id: int = Field(alias="snapshotId")
    queue_time: datetime | None = Field(default=None, alias="queueTime")
    start_time: datetime | None = Field(default=None, alias="startTime")
    end_time: datetime | None = Field(default=None, alias="endTime")
    state: SnapshotState = SnapshotState.NEW
    run_by_schedule: bool | None = Field(default=None, alias="runBySchedule")
    log: str | None = Field(default=None, validation_alias=AliasChoices("log", "result"))
    success_rows: int | None = Field(default=None, alias="successRows")
    error_rows: int | None = Field(default=None, alias="errorRows")

    _utc = field_validator("queue_time", "start_time", "end_time", mode="after")(_as_utc)

    @property
    def duration_seconds(self) -> float | None:
        if self.start_time and self.end_time:
            return max(0.0, (self.end_time - self.start_time).total_seconds())
        return None


class ActiveRun(SkyviaModel):
    """What `POST .../snapshots` and `GET .../snapshots/active` return."""

    run_id: int = Field(alias="runId")
    date: datetime | None = None
    duration: int | None = None
    state: SnapshotState = SnapshotState.NEW
    success_rows: int | None = Field(default=None, alias="successRows")
    error_rows: int | None = Field(default=None, alias="errorRows")

    _utc = field_validator("date", mode="after")(_as_utc)


class Schedule(SkyviaModel):
    active: bool


T = TypeVar("T")


class Page(SkyviaModel, Generic[T]):
    data: list[T] = Field(default_factory=list)
    has_more: bool = Field(default=False, alias="hasMore")

    @field_validator("data", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value
