"""Alert takers ("I'm on it") and personal subscriptions (DMs of a channel's failures).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("backup_id", _ID, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name="fk_subscriptions_binding_id_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("binding_id", "user_id", "backup_id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_user_id", "subscriptions", ["user_id"])
    op.create_table(
        "alert_takers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("alert_ts", sa.String(32), nullable=False),
        sa.Column("backup_id", _ID, nullable=False),
        sa.Column("snapshot_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_takers"),
    )
    op.create_index(
        "ix_alert_takers_team_id_channel_id_alert_ts",
        "alert_takers",
        ["team_id", "channel_id", "alert_ts"],
    )
    op.create_index(
        "ix_alert_takers_team_id_channel_id_backup_id",
        "alert_takers",
        ["team_id", "channel_id", "backup_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_alert_takers_team_id_channel_id_backup_id", table_name="alert_takers")
    op.drop_index("ix_alert_takers_team_id_channel_id_alert_ts", table_name="alert_takers")
    op.drop_table("alert_takers")
    op.drop_index("ix_subscriptions_user_id", table_name="subscriptions")
    op.drop_table("subscriptions")
