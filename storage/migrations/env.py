"""Alembic environment: async engine, run through `connection.run_sync`.

`storage.db.upgrade_async` hands in an open connection (`config.attributes["connection"]`); the
`alembic` command line gets its URL from `-x url=...`, `DATABASE_URL` or the default SQLite file.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import URL, Connection

from storage.db import create_engine
from storage.models import Base

DEFAULT_URL = "sqlite+aiosqlite:///skyvia-bot.db"

config = context.config
if config.config_file_name is not None:  # the developer CLI; the bot keeps its own logging
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def _url() -> str:
    url: URL | None = config.attributes.get("database_url")
    if url is not None:
        return url.render_as_string(hide_password=False)
    return context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "DATABASE_URL", DEFAULT_URL
    )


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
        transactional_ddl=True,  # SQLite can roll DDL back too: a killed migration leaves no half
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url(), sqlite_foreign_keys=False, statement_timeout=None)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
