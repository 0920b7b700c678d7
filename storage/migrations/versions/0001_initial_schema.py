"""Initial schema.

Bindings, mutes, watches, alert cursors, the delivery ledger, processed clicks, the audit log, and
the tables of slack_sdk's SQLAlchemy OAuth stores.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
SLACK_ID = sa.String(length=32)
LEASE_OWNER = sa.String(length=128)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _slack_tables() -> list[sa.Table]:
    """The tables slack_sdk's async SQLAlchemy stores expect, from their own builders."""
    metadata = sa.MetaData()
    installations = AsyncSQLAlchemyInstallationStore
    return [
        installations.build_installations_table(
            metadata, installations.default_installations_table_name
        ),
        installations.build_bots_table(metadata, installations.default_bots_table_name),
        AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(
            metadata, AsyncSQLAlchemyOAuthStateStore.default_table_name
        ),
    ]


def _create_like(table: sa.Table) -> None:
    columns = [
        sa.Column(
            column.name,
            column.type,
            nullable=column.nullable,
            primary_key=column.primary_key,
            autoincrement=column.autoincrement,
        )
        for column in table.columns
    ]
    op.create_table(table.name, *columns)
    for index in table.indexes:
        op.create_index(index.name, table.name, [column.name for column in index.columns])


def upgrade() -> None:
    op.create_table(
        "bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=True),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        sa.Column("created_by", SLACK_ID, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("alerts_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("alerts_since", UTC_DATETIME, nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bindings"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_bindings_team_id_channel_id"),
    )
    op.create_index("ix_bindings_workspace_id", "bindings", ["workspace_id"])

    op.create_table(
        "mutes",
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=False),
        sa.Column("muted_by", SLACK_ID, nullable=False),
        sa.Column("muted_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["bindings.id"],
            name="fk_mutes_binding_id_bindings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("binding_id", "backup_id", name="pk_mutes"),
    )

    op.create_table(
        "watches",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=False),
        sa.Column("message_ts", SLACK_ID, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=False),
        sa.Column("backup_name", sa.Text(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("started_by", SLACK_ID, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("last_state", sa.String(length=32), nullable=True),
        sa.Column("next_poll_at", UTC_DATETIME, nullable=False),
        sa.Column("last_note_at", UTC_DATETIME, nullable=True),
        sa.Column("poll_errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_owner", LEASE_OWNER, nullable=True),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_watches"),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "snapshot_id",
            name="uq_watches_team_id_channel_id_snapshot_id",
        ),
    )
    op.create_index("ix_watches_next_poll_at", "watches", ["next_poll_at"])

    op.create_table(
        "alert_cursors",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=False),
        sa.Column("backup_name", sa.Text(), nullable=True),
        sa.Column("cursor", UTC_DATETIME, nullable=False),
        sa.Column("next_scan_at", UTC_DATETIME, nullable=False),
        sa.Column("lease_owner", LEASE_OWNER, nullable=True),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("error_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_listed_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", "backup_id", name="pk_alert_cursors"),
    )
    op.create_index("ix_alert_cursors_next_scan_at", "alert_cursors", ["next_scan_at"])

    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", LEASE_OWNER, nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.Column("message_ts", SLACK_ID, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "snapshot_id",
            "kind",
            name="uq_deliveries_team_id_channel_id_snapshot_id_kind",
        ),
    )
    op.create_index("ix_deliveries_status_claimed_at", "deliveries", ["status", "claimed_at"])

    op.create_table(
        "processed_clicks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_processed_clicks"),
        sa.UniqueConstraint("key", name="uq_processed_clicks_key"),
    )
    op.create_index("ix_processed_clicks_created_at", "processed_clicks", ["created_at"])

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("team_id", SLACK_ID, nullable=False),
        sa.Column("channel_id", SLACK_ID, nullable=True),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_team_id_at", "audit_log", ["team_id", "at"])

    for table in _slack_tables():
        _create_like(table)


def downgrade() -> None:
    for table in reversed(_slack_tables()):
        op.drop_table(table.name)
    for name in (
        "audit_log",
        "processed_clicks",
        "deliveries",
        "alert_cursors",
        "watches",
        "mutes",
        "bindings",
    ):
        op.drop_table(name)
