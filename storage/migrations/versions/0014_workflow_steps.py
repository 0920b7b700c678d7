"""Workflow Builder steps: the executions taken on (one per execution id, across replicas and
retried events), and on a watch the execution its run completes, with the execution's token
(encrypted) and the workflow's title.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "step_executions",
        sa.Column("execution_id", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        op.f("ix_step_executions_created_at"), "step_executions", ["created_at"], unique=False
    )
    with op.batch_alter_table("watches") as batch:
        batch.add_column(sa.Column("step_execution_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("step_token_ciphertext", sa.Text(), nullable=True))
        batch.add_column(sa.Column("step_taken_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("workflow_title", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("workflow_title")
        batch.drop_column("step_taken_at")
        batch.drop_column("step_token_ciphertext")
        batch.drop_column("step_execution_id")
    op.drop_index(op.f("ix_step_executions_created_at"), table_name="step_executions")
    op.drop_table("step_executions")
