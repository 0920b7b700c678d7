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

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
SLACK_ID = sa.String(length=32)
LEASE_OWNER = sa.String(length=128)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


SLACK_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")


def _create_slack_tables() -> None:
    """The tables of slack_sdk's SQLAlchemy OAuth stores, as its `build_*_table` declared them
    then (tokens `String(200)`, 0004 makes them `Text`). Written out rather than built by slack_sdk,
    so this revision creates the same tables whichever slack_sdk is installed."""
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), nullable=False, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("enterprise_url", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime()),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.String(200)),
        sa.Column("user_scopes", sa.String(1000)),
        sa.Column("user_refresh_token", sa.String(200)),
        sa.Column("user_token_expires_at", sa.DateTime()),
        sa.Column("incoming_webhook_url", sa.String(200)),
        sa.Column("incoming_webhook_channel", sa.String(200)),
        sa.Column("incoming_webhook_channel_id", sa.String(200)),
        sa.Column("incoming_webhook_configuration_url", sa.String(200)),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("token_type", sa.String(32)),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "slack_installations_idx",
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer(), nullable=False, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime()),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "slack_bots_idx", "slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"]
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), nullable=False, primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
    )


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

    _create_slack_tables()


def downgrade() -> None:
    for name in reversed(SLACK_TABLES):
        op.drop_table(name)
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
