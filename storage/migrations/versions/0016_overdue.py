"""Runs that take unusually long: each channel's overdue limit per backup (beside its stale
limit), and what the scanner knows of the backup's durations and its run in progress.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backup_staleness") as batch:
        batch.add_column(sa.Column("overdue_seconds", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("overdue_disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("alert_cursors") as batch:
        batch.add_column(sa.Column("usual_run_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("last_start_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "running_snapshot_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("running_since", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("active_checked_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_cursors") as batch:
        for column in (
            "active_checked_at",
            "running_since",
            "running_snapshot_id",
            "last_start_at",
            "usual_run_seconds",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("backup_staleness") as batch:
        batch.drop_column("overdue_disabled")
        batch.drop_column("overdue_seconds")
