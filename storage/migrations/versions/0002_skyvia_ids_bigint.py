"""Skyvia ids as 64-bit integers.

Workspace, backup and snapshot ids come from Skyvia. They are documented as int32, but a counter
that outgrows int32 must not make PostgreSQL refuse a watch, mute, cursor or ledger row (each
refusal would be a lost reply or alert). SQLite's INTEGER already holds 64 bits, so SQLite is left
as it is; rebuilding its tables would gain nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SKYVIA_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "bindings": ("workspace_id",),
    "mutes": ("backup_id",),
    "watches": ("workspace_id", "backup_id", "snapshot_id"),
    "alert_cursors": ("workspace_id", "backup_id"),
    "deliveries": ("snapshot_id",),
}


def _retype(old: sa.types.TypeEngine[int], new: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in SKYVIA_ID_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=False)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    # Fails, as it should, if an id beyond int32 has been stored since.
    _retype(sa.BigInteger(), sa.Integer())
