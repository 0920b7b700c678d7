"""Slack installations encrypted at rest; bindings record their Enterprise Grid org.

- The token columns of `slack_installations` and `slack_bots` become `Text` (Fernet ciphertext is
  longer than slack_sdk's 200 characters) and every token already stored is encrypted with the
  bot's encryption key (the first key when several are set).
- `bindings.enterprise_id`: the Grid org of the binding's workspace (NULL outside Grid), so the
  workers find an org-wide install; filled in from the workspace installs already stored.

The key comes from the caller (`storage.db.upgrade_async(..., cipher=...)`, which `skyvia-bot`
uses) or, for the plain `alembic` command, from SKYVIA_BOT_ENCRYPTION_KEY or the key file beside a
SQLite database. It is only needed when there are tokens to encrypt.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from storage.crypto import KEY_ENV, TokenCipher, load_or_create_key

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOTS_TABLE = "slack_bots"
TABLES = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    BOTS_TABLE: ("bot_token", "bot_refresh_token"),
}
"""The token columns of each Slack table, written out: this revision must not change with the
tables' module."""


def _cipher() -> TokenCipher:
    given = op.get_context().config.attributes.get("token_cipher")  # type: ignore[union-attr]
    if isinstance(given, TokenCipher):
        return given
    url = op.get_bind().engine.url
    database = url.database if url.get_backend_name() == "sqlite" else None
    sqlite_path = Path(database) if database and not database.startswith(":memory:") else None
    return TokenCipher(load_or_create_key(os.environ.get(KEY_ENV), sqlite_path))


def _convert(table_name: str, columns: Sequence[str], change: Callable[[str], str]) -> None:
    table = sa.table(table_name, sa.column("id"), *(sa.column(name) for name in columns))
    bind = op.get_bind()
    rows = bind.execute(sa.select(table)).mappings().all()
    for row in rows:
        values = {name: change(row[name]) for name in columns if row[name] is not None}
        if values:
            bind.execute(sa.update(table).where(table.c.id == row["id"]).values(values))


def _has_tokens() -> bool:
    bind = op.get_bind()
    for table_name, columns in TABLES.items():
        table = sa.table(table_name, *(sa.column(name) for name in columns))
        condition = sa.or_(*(table.c[name].is_not(None) for name in columns))
        if bind.execute(sa.select(sa.func.count()).select_from(table).where(condition)).scalar():
            return True
    return False


def upgrade() -> None:
    for table_name, columns in TABLES.items():
        with op.batch_alter_table(table_name) as batch:
            for name in columns:
                batch.alter_column(name, type_=sa.Text(), existing_type=sa.String(length=200))
    if _has_tokens():
        cipher = _cipher()
        for table_name, columns in TABLES.items():
            _convert(table_name, columns, cipher.encrypt)
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("enterprise_id", sa.String(length=32), nullable=True))
    bots = sa.table(
        BOTS_TABLE, sa.column("team_id"), sa.column("enterprise_id"), sa.column("installed_at")
    )
    bindings = sa.table("bindings", sa.column("team_id"), sa.column("enterprise_id"))
    installed_org = (
        sa.select(bots.c.enterprise_id)
        .where(bots.c.team_id == bindings.c.team_id, bots.c.enterprise_id.is_not(None))
        .order_by(bots.c.installed_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(sa.update(bindings).values(enterprise_id=installed_org))


def downgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("enterprise_id")
    if _has_tokens():
        cipher = _cipher()
        for table_name, columns in TABLES.items():
            _convert(table_name, columns, cipher.decrypt)
    for table_name, columns in TABLES.items():
        with op.batch_alter_table(table_name) as batch:
            for name in columns:
                batch.alter_column(name, type_=sa.String(length=200), existing_type=sa.Text())
