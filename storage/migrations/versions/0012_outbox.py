"""The outbox: ledger rows carry what to send, its priority, its edit target and its backoff.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("target", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("not_before", UTCDateTime(), nullable=True))
    op.create_index("ix_deliveries_status_priority_id", "deliveries", ["status", "priority", "id"])
    op.create_index("ix_deliveries_target", "deliveries", ["target"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_target", table_name="deliveries")
    op.drop_index("ix_deliveries_status_priority_id", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("not_before")
        batch.drop_column("target")
        batch.drop_column("payload")
        batch.drop_column("priority")
