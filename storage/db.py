"""The database handle: one async engine and its session factory, plus programmatic migrations.

SQLite is the single-process default and PostgreSQL the multi-replica option; both get the same
guarantees from the repositories, which is why SQLite transactions start with BEGIN IMMEDIATE
(see `_configure_sqlite`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 15_000
PING_TIMEOUT = 5.0
# Any constant shared by every replica: serialises concurrent `upgrade` runs on PostgreSQL.
_MIGRATION_LOCK_ID = 0x5C1F1A_B07
# Execution option that lets one connection start a read-only (deferred) SQLite transaction.
SQLITE_BEGIN_OPTION = "sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """Adds the async driver to a plain `sqlite://` or `postgresql://` URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in {"postgresql", "postgres"} and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def create_engine(
    url: str | URL,
    *,
    sqlite_foreign_keys: bool = True,
    sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    echo: bool = False,
) -> AsyncEngine:
    """An engine configured for this app on either dialect (see module docstring)."""
    parsed = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "postgresql":
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800)
        return create_async_engine(parsed, **kwargs)
    if parsed.database not in (None, "", ":memory:"):
        # Each pooled connection is a thread in aiosqlite; SQLite has one writer anyway.
        kwargs.update(pool_size=5, max_overflow=5, pool_timeout=30)
    engine = create_async_engine(parsed, **kwargs)
    _configure_sqlite(
        engine, foreign_keys=sqlite_foreign_keys, busy_timeout_ms=sqlite_busy_timeout_ms
    )
    return engine


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE transactions.

    With the driver's deferred BEGIN, a transaction that read first and writes later cannot wait
    for the write lock: SQLite fails it at once with "database is locked" whatever the busy
    timeout. Taking the write lock at BEGIN makes concurrent writers (two processes claiming
    work) queue on `busy_timeout` instead. The cost, that transactions on one file run one at a
    time, fits the single-process SQLite deployment; several replicas use PostgreSQL.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        # The timeout first, so that switching to WAL also waits for a busy database.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


class Database:
    """An async engine and its session factory; the one long-lived database object."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Objects stay readable after commit: workers hand claimed rows to code outside the session.
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str | URL, *, echo: bool = False) -> Database:
        return cls(create_engine(url, echo=echo))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises.

        On SQLite do not open a second session while one is open in the same task: the second
        waits for the first's write lock, which the first cannot release.
        """
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        """True when the database answers a trivial query within `PING_TIMEOUT` seconds.

        The read is deferred on SQLite, so a readiness probe does not queue behind writers.
        """
        try:
            async with asyncio.timeout(PING_TIMEOUT), self.engine.connect() as connection:
                connection = await connection.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)})"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration that finds the migrations inside the installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Passed as an attribute, not an option: options are %-interpolated, passwords are not.
        config.attributes["database_url"] = normalize_url(url)
    return config


async def upgrade_async(url: str | URL, revision: str = "head") -> None:
    """Applies migrations up to `revision`; safe when several replicas start at once."""
    # Foreign keys off: a future SQLite table rebuild must not cascade-delete child rows.
    engine = create_engine(url, sqlite_foreign_keys=False)
    try:
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await connection.run_sync(_upgrade_on, alembic_config(url), revision)
    finally:
        await engine.dispose()


def _upgrade_on(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Synchronous `upgrade_async`, for the CLI; call `upgrade_async` from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(upgrade_async(url, revision))
        return
    raise RuntimeError("upgrade() was called inside an event loop; await upgrade_async() instead")
