"""Failure episodes and stale backups.

- `alert_episodes`: one row per channel (binding) and backup, the streak its alert shows;
- `backup_staleness`: a channel's stale limit for a backup (no row: `auto`) and its open
  stale episode;
- `alert_cursors` learns what the stale check needs of a backup's recent runs: schedule on,
  the usual gap between scheduled runs, the last good snapshot, when the runs were read.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
SKYVIA_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_episodes",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", SKYVIA_ID, nullable=False),
        sa.Column("first_snapshot_id", SKYVIA_ID, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since", UTC_DATETIME, nullable=False),
        sa.Column("last_snapshot_id", SKYVIA_ID, nullable=False),
        sa.Column("last_failed_at", UTC_DATETIME, nullable=False),
        sa.Column("recovered_snapshot_id", SKYVIA_ID, nullable=True),
        sa.Column("recovered_at", UTC_DATETIME, nullable=True),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name="fk_alert_episodes_binding_id_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("binding_id", "backup_id", name="pk_alert_episodes"),
    )
    op.create_index("ix_alert_episodes_closed_at", "alert_episodes", ["closed_at"])
    op.create_table(
        "backup_staleness",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", SKYVIA_ID, nullable=False),
        sa.Column("limit_seconds", sa.Integer(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stale_snapshot_id", SKYVIA_ID, nullable=True),
        sa.Column("stale_announced", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name="fk_backup_staleness_binding_id_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("binding_id", "backup_id", name="pk_backup_staleness"),
    )
    with op.batch_alter_table("alert_cursors") as batch:
        for column in _cursor_columns():
            batch.add_column(column)


def _cursor_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("scheduled", sa.Boolean(), nullable=True),
        sa.Column("cadence_seconds", sa.Float(), nullable=True),
        sa.Column("last_good_snapshot_id", SKYVIA_ID, nullable=True),
        sa.Column("last_good_at", UTC_DATETIME, nullable=True),
        sa.Column("runs_checked_at", UTC_DATETIME, nullable=True),
    ]


def downgrade() -> None:
    with op.batch_alter_table("alert_cursors") as batch:
        for column in reversed(_cursor_columns()):
            batch.drop_column(column.name)
    op.drop_table("backup_staleness")
    op.drop_index("ix_alert_episodes_closed_at", table_name="alert_episodes")
    op.drop_table("alert_episodes")
