"""Plain copies of the binding and alert cursor rows: what the repositories hand the services.

A record is frozen and holds values only, so a service cannot change a row by accident, a read
needs no open session afterwards, and nothing is tracked for a flush. The repositories select
the columns and build a record from each row (no ORM entity: building and tracking one per row
was a measurable share of the alert scanner's CPU); they write with ids and values. Each field is
named as its column is (`tests/storage/test_records.py` checks that every column has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class BindingRecord:
    """A channel bound to a Skyvia workspace (`storage.models.Binding`); `token_ciphertext`
    None means the default token, and never shows in a repr."""

    id: int
    team_id: str
    enterprise_id: str | None
    channel_id: str
    workspace_id: int
    workspace_name: str | None
    token_ciphertext: str | None = field(repr=False)
    created_by: str
    created_at: datetime
    alerts_enabled: bool
    alerts_since: datetime
    paused_reason: str | None
    paused_at: datetime | None
    updated_at: datetime
    alert_mentions: str | None

    @property
    def mention_ids(self) -> tuple[str, ...]:
        return tuple((self.alert_mentions or "").split())

    @property
    def uses_default_token(self) -> bool:
        return self.token_ciphertext is None

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True)
class CursorRecord:
    """How far one backup's failures were scanned, and what the stale and overdue checks
    learned of its runs (`storage.models.AlertCursor`)."""

    workspace_id: int
    backup_id: int
    backup_name: str | None
    cursor: datetime
    next_scan_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    error_count: int
    last_listed_at: datetime | None
    scheduled: bool | None
    cadence_seconds: float | None
    last_good_snapshot_id: int | None
    last_good_at: datetime | None
    runs_checked_at: datetime | None
    usual_run_seconds: float | None
    last_start_at: datetime | None
    running_snapshot_id: int | None
    running_since: datetime | None
    active_checked_at: datetime | None
