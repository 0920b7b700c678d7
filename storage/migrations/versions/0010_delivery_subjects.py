"""Deliveries record the backup they are about, so the App Home can list recent failures.

- `deliveries.backup_id`, `deliveries.backup_name`: set on failure alerts (NULL on other kinds
  and on rows written before), read back without asking Skyvia;
- `deliveries(team_id, kind, sent_at)`: a team's most recent alerts, newest first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_deliveries_team_id_kind_sent_at"


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column(
                "backup_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch.add_column(sa.Column("backup_name", sa.Text(), nullable=True))
    op.create_index(INDEX, "deliveries", ["team_id", "kind", "sent_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("backup_name")
        batch.drop_column("backup_id")
