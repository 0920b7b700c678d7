"""Retention: the indexes that keep hot queries and pruning off full scans, and the job lease.

- `watches(snapshot_id)`: the alert scanner asks which of a page of failures are watched;
- `watches(finished_at)`: pending watches (`finished_at IS NULL`) and pruning finished ones;
- `deliveries(snapshot_id, kind, status)`: the alert scanner asks which alerts were already
  sent, and the notifier reads rows by key (a key's snapshot narrows the search);
- `deliveries(claimed_at)` and `audit_log(at)`: pruning by age;
- `worker_leases`: one row per periodic job that one replica at a time runs (retention).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_watches_snapshot_id", "watches", ["snapshot_id"]),
    ("ix_watches_finished_at", "watches", ["finished_at"]),
    ("ix_deliveries_snapshot_id_kind_status", "deliveries", ["snapshot_id", "kind", "status"]),
    ("ix_deliveries_claimed_at", "deliveries", ["claimed_at"]),
    ("ix_audit_log_at", "audit_log", ["at"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_worker_leases"),
    )


def downgrade() -> None:
    op.drop_table("worker_leases")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
