"""A watch may exist before its card: `watches.message_ts` becomes nullable.

A snapshot started from Slack is recorded as watched as soon as Skyvia names the run, before
its lifecycle card is posted, so a card whose post fails (or whose outcome is unknown) can
never leave a run unwatched. The card's `ts` is filled in once the post is known to have landed.
`card_thread_ts`: the thread a retry's card was posted in, where the watcher looks for it and
posts it when the request could not.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLACK_ID = sa.String(length=32)


def upgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.alter_column("message_ts", existing_type=SLACK_ID, nullable=True)
        batch.add_column(sa.Column("card_thread_ts", SLACK_ID, nullable=True))


def downgrade() -> None:
    # A watch whose card never landed has no thread to go back to: it is stopped, not kept.
    op.execute("DELETE FROM watches WHERE message_ts IS NULL")
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("card_thread_ts")
        batch.alter_column("message_ts", existing_type=SLACK_ID, nullable=False)
