"""Database fixtures (a pytest plugin) and helpers for code that needs a database outside pytest.

SQLite by default; PostgreSQL when `TEST_DATABASE_URL` is set. On PostgreSQL a fresh database
named `skyvia_t_<random>` is created next to the one the variable names and dropped afterwards;
nothing this module did not create is ever dropped, because others share that server.

Fixtures:
- `migrated_database_url` (session): one database migrated to head, shared by the session's tests;
- `database_url`: that database with every table emptied, for a test that hands the URL to an app
  or a child process;
- `db`: a `Database` on the emptied database, disposed after the test;
- `empty_database_url`: a brand-new database with no tables, dropped after the test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import Database, create_engine, normalize_url, upgrade_async
from storage.models import Base

TEST_DATABASE_URL_ENV = "TEST_DATABASE_URL"
PG_PREFIX = "skyvia_t_"
SQLITE_DIR_PREFIX = "skyvia-t-"


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


async def make_database_url(*, migrate: bool = True) -> str:
    """A new, private database URL (migrated to head unless `migrate=False`).

    Usable outside pytest (benchmarks, crash tests that hand the URL to a child process);
    pair it with `drop_database_url`, or use `temporary_database_url`.
    """
    base = os.environ.get(TEST_DATABASE_URL_ENV)
    if base:
        admin = normalize_url(base)
        name = f"{PG_PREFIX}{secrets.token_hex(6)}"
        connection = await asyncpg.connect(_asyncpg_dsn(admin))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        url = _render(admin.set(database=name))
    else:
        directory = Path(tempfile.mkdtemp(prefix=SQLITE_DIR_PREFIX))
        url = f"sqlite+aiosqlite:///{directory / 'bot.db'}"
    if migrate:
        await upgrade_async(url)
    return url


async def drop_database_url(url: str) -> None:
    """Removes a database made by `make_database_url`, and refuses any other."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        directory = Path(database).parent
        if not directory.name.startswith(SQLITE_DIR_PREFIX):
            raise ValueError(f"refusing to remove {directory}: not made by make_database_url")
        shutil.rmtree(directory, ignore_errors=True)
        return
    if not database.startswith(PG_PREFIX):
        raise ValueError(f"refusing to drop database {database!r}: not made by make_database_url")
    admin_db = make_url(os.environ.get(TEST_DATABASE_URL_ENV) or url).database or "postgres"
    if admin_db == database:
        admin_db = "postgres"
    connection = await asyncpg.connect(_asyncpg_dsn(normalize_url(parsed.set(database=admin_db))))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def temporary_database_url(*, migrate: bool = True) -> AsyncIterator[str]:
    url = await make_database_url(migrate=migrate)
    try:
        yield url
    finally:
        await drop_database_url(url)


async def empty_tables(engine: AsyncEngine) -> None:
    """Deletes every row of every table the migrations create (the Alembic version stays)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_database_url() -> Iterator[str]:
    # Sync on purpose: a URL outlives event loops, and tests run one loop each.
    url = asyncio.run(make_database_url())
    yield url
    asyncio.run(drop_database_url(url))


@pytest.fixture
async def database_url(migrated_database_url: str) -> str:
    engine = create_engine(migrated_database_url)
    try:
        await empty_tables(engine)
    finally:
        await engine.dispose()
    return migrated_database_url


@pytest.fixture
async def db(migrated_database_url: str) -> AsyncIterator[Database]:
    database = Database.connect(migrated_database_url)
    try:
        await empty_tables(database.engine)
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def empty_database_url() -> AsyncIterator[str]:
    async with temporary_database_url(migrate=False) as url:
        yield url


@pytest.fixture
async def replica(db: Database, migrated_database_url: str) -> AsyncIterator[Database]:
    """A second `Database` on the same data, with its own engine: another replica or process."""
    other = Database.connect(migrated_database_url)
    try:
        yield other
    finally:
        await other.dispose()
