"""Failure episodes that are over, kept for the App Home (an episode's row is reused by the
backup's next episode). Episodes already closed are copied in.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COPY_CLOSED = (
    "INSERT INTO past_episodes (binding_id, backup_id, first_snapshot_id, failures, since, "
    "last_snapshot_id, last_failed_at, recovered_snapshot_id, recovered_at, closed_at) "
    "SELECT binding_id, backup_id, first_snapshot_id, failures, since, last_snapshot_id, "
    "last_failed_at, recovered_snapshot_id, recovered_at, closed_at FROM alert_episodes "
    "WHERE closed_at IS NOT NULL"
)


def upgrade() -> None:
    op.create_table(
        "past_episodes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", _ID, nullable=False),
        sa.Column("first_snapshot_id", _ID, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("last_snapshot_id", _ID, nullable=False),
        sa.Column("last_failed_at", UTCDateTime(), nullable=False),
        sa.Column("recovered_snapshot_id", _ID, nullable=True),
        sa.Column("recovered_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name="fk_past_episodes_binding_id_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_past_episodes"),
        sa.UniqueConstraint(
            "binding_id",
            "backup_id",
            "first_snapshot_id",
            name="uq_past_episodes_binding_id_backup_id_first_snapshot_id",
        ),
    )
    op.create_index("ix_past_episodes_closed_at", "past_episodes", ["closed_at"])
    op.execute(_COPY_CLOSED)


def downgrade() -> None:
    op.drop_index("ix_past_episodes_closed_at", table_name="past_episodes")
    op.drop_table("past_episodes")
