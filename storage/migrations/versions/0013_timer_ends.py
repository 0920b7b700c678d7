"""Timers keep their original end, which keys their note (a retry moves only `due_at`), and
the Skyvia workspace and token they were set with: windows on one backup are seen together,
and a window ends with its own credentials whatever happens to the channel's binding.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.add_column(sa.Column("ends_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch.add_column(sa.Column("token_ciphertext", sa.Text(), nullable=True))
    op.execute("UPDATE timers SET ends_at = due_at")
    op.execute(
        "UPDATE timers SET workspace_id = (SELECT b.workspace_id FROM bindings b"
        " WHERE b.team_id = timers.team_id AND b.channel_id = timers.channel_id)"
    )
    op.execute(
        "UPDATE timers SET token_ciphertext = (SELECT b.token_ciphertext FROM bindings b"
        " WHERE b.team_id = timers.team_id AND b.channel_id = timers.channel_id)"
    )
    with op.batch_alter_table("timers") as batch:
        batch.alter_column("ends_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("token_ciphertext")
        batch.drop_column("workspace_id")
        batch.drop_column("ends_at")
