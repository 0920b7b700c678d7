"""Unmutes: when a channel last unmuted a backup, so what failed while muted stays quiet.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmutes",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column(
            "backup_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("unmuted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name="fk_unmutes_binding_id_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("binding_id", "backup_id", name="pk_unmutes"),
    )


def downgrade() -> None:
    op.drop_table("unmutes")
