"""Alert mentions: the people and user groups a channel's failure alerts mention.

One nullable text column on `bindings` (space-separated Slack ids), so a channel without
mentions costs nothing and the alert scanner reads them with the bindings it already loads.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bindings", sa.Column("alert_mentions", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("alert_mentions")
