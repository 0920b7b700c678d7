"""The database handle: one async engine and its session factory, plus programmatic migrations.

SQLite is the single-process default and PostgreSQL the multi-replica option; both get the same
guarantees from the repositories, which is why SQLite transactions start with BEGIN IMMEDIATE
(see `_configure_sqlite`).

Failing fast: left to its defaults, asyncpg waits 60 s for a connection and forever for a
statement, so a database that stops answering would hold every worker tick and request that
long. Engines get a connect timeout, a statement timeout (PostgreSQL's own `statement_timeout`,
with a client-side backstop a little longer for a server that does not answer at all), a
pool checkout timeout, and on SQLite a busy timeout equal to the statement timeout.
`is_unavailable` tells such failures (the database is down, hung or overloaded) from errors in
the data, so callers can give up at once instead of retrying write by write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from storage.crypto import TokenCipher

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection (asyncpg's own default is 60)."""
STATEMENT_TIMEOUT = 15.0
"""Seconds a statement may run (PostgreSQL) or wait for the write lock (SQLite's busy timeout)."""
CLIENT_TIMEOUT_MARGIN = 5.0
"""How much longer the client waits than the server's statement limit, so the server's cancel
(a clean error, the connection kept) comes first and the client's only for a silent server."""
POOL_TIMEOUT = 10.0
"""Seconds to wait for a free pooled PostgreSQL connection."""
PING_TIMEOUT = 5.0
# SQLSTATE classes that mean "the database cannot serve now", not "this write is wrong":
# connection exceptions, insufficient resources (too many connections, disk full), and operator
# intervention (shutdown, statement timeout or cancel). Deadlocks and serialization failures
# (class 40) are not here: re-running the writes one at a time is their cure.
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
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
    connect_timeout: float = CONNECT_TIMEOUT,
    statement_timeout: float | None = STATEMENT_TIMEOUT,
    echo: bool = False,
) -> AsyncEngine:
    """An engine configured for this app on either dialect (see module docstring).

    `statement_timeout=None` lifts the statement limit on PostgreSQL (migrations: an index
    build or the migration lock may take longer); SQLite then keeps the default busy timeout.
    """
    parsed = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "postgresql":
        kwargs.update(
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_recycle=1800,
            pool_timeout=POOL_TIMEOUT,
            connect_args=_asyncpg_timeouts(connect_timeout, statement_timeout),
        )
        return create_async_engine(parsed, **kwargs)
    if parsed.database not in (None, "", ":memory:"):
        # Each pooled connection is a thread in aiosqlite; SQLite has one writer anyway.
        kwargs.update(pool_size=5, max_overflow=5, pool_timeout=30)
    engine = create_async_engine(parsed, **kwargs)
    busy_timeout = STATEMENT_TIMEOUT if statement_timeout is None else statement_timeout
    _configure_sqlite(
        engine, foreign_keys=sqlite_foreign_keys, busy_timeout_ms=int(busy_timeout * 1000)
    )
    return engine


def _asyncpg_timeouts(connect_timeout: float, statement_timeout: float | None) -> dict[str, Any]:
    """asyncpg `connect()` arguments: the connect timeout and both statement limits."""
    args: dict[str, Any] = {"timeout": connect_timeout}
    if statement_timeout is not None:
        # Sent as a startup parameter: behind PgBouncer, list `statement_timeout` in its
        # `ignore_startup_parameters`; the client-side `command_timeout` still applies.
        args["server_settings"] = {"statement_timeout": str(int(statement_timeout * 1000))}
        args["command_timeout"] = statement_timeout + CLIENT_TIMEOUT_MARGIN
    return args


def is_unavailable(error: BaseException) -> bool:
    """True when `error` says the database cannot serve now (down, hung, overloaded, locked).

    False for errors in what was written (constraint violations, bugs) and for deadlocks, which
    another attempt can fix; retrying an unavailable database at once only waits again.
    """
    if isinstance(error, OSError | TimeoutError | sa_exc.TimeoutError):
        return True  # refused, reset, connect/command timeout, pool checkout timeout
    if isinstance(error, sa_exc.OperationalError):
        return True  # SQLite: locked past the busy timeout, I/O error, cannot open the file
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(error.orig, OSError | TimeoutError):
            return True
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return isinstance(state, str) and state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    return False


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

    def __init__(self, engine: AsyncEngine, *, busy_timeout: float = STATEMENT_TIMEOUT) -> None:
        self.engine = engine
        self._busy_timeout = busy_timeout
        # Objects stay readable after commit: workers hand claimed rows to code outside the session.
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        self._readmaker = async_sessionmaker(
            engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}), expire_on_commit=False
        )
        self._late_probes: set[asyncio.Future[None]] = set()  # see `ping`
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None  # `session`
        self._turn_holder: asyncio.Task[Any] | None = None

    @classmethod
    def connect(
        cls,
        url: str | URL,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        statement_timeout: float | None = STATEMENT_TIMEOUT,
        echo: bool = False,
    ) -> Database:
        """A database with the fail-fast timeouts of the module docstring."""
        engine = create_engine(
            url, connect_timeout=connect_timeout, statement_timeout=statement_timeout, echo=echo
        )
        busy = STATEMENT_TIMEOUT if statement_timeout is None else statement_timeout
        return cls(engine, busy_timeout=busy)

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

        On SQLite the writers of this process also take turns, first come first served, before
        they ask for the write lock: SQLite's busy handler polls with sleeps, and under a writer
        committing back to back (the write batcher during an alert wave) a waiting tick lost
        every race to the next BEGIN until its busy timeout failed it. A writer that waited its
        turn for the whole busy timeout goes on to SQLite's own wait, as before.
        """
        turns = self._writer_turns()
        task = asyncio.current_task()
        if turns is None or (task is not None and task is self._turn_holder):
            # PostgreSQL; or a session opened inside this task's own (it begins lazily, so
            # that was allowed while the outer one had not written yet): no second turn.
            async with self.sessionmaker() as session, session.begin():
                yield session
            return
        got_turn = False
        try:
            async with asyncio.timeout(self._busy_timeout):
                got_turn = await turns.acquire()
        except TimeoutError:
            pass
        if got_turn:
            self._turn_holder = task
        try:
            async with self.sessionmaker() as session, session.begin():
                yield session
        finally:
            if got_turn:
                self._turn_holder = None
                turns.release()

    def _writer_turns(self) -> asyncio.Lock | None:
        """This loop's queue of SQLite writers (None on PostgreSQL): a lock belongs to a loop."""
        if self.is_postgresql:
            return None
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Lock())
        return self._turns[1]

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads: on SQLite it begins DEFERRED, so it neither waits
        for nor holds the write lock (WAL gives it a consistent snapshot), where a `session`
        would queue behind every writer and hold writers back while it reads. Writing in it
        may fail with "database is locked" at once: use `session` for that."""
        async with self._readmaker() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        """True when the database answers a trivial query within `PING_TIMEOUT` seconds.

        The answer comes within the limit even when the server hangs: the probe runs as a task
        of its own, and a late one is cancelled and left to clean up (closing a connection to a
        hung server waits too) without holding the caller. The read is deferred on SQLite, so a
        readiness probe does not queue behind writers.
        """
        probe = asyncio.ensure_future(self._select_one())
        try:
            done, _ = await asyncio.wait({probe}, timeout=PING_TIMEOUT)
        finally:
            if not probe.done():
                probe.cancel()
                self._late_probes.add(probe)
                probe.add_done_callback(self._forget_probe)
        return bool(done) and not probe.cancelled() and probe.exception() is None

    async def _select_one(self) -> None:
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            await connection.execute(text("SELECT 1"))

    def _forget_probe(self, probe: asyncio.Future[None]) -> None:
        self._late_probes.discard(probe)
        if not probe.cancelled():
            probe.exception()  # retrieved, so asyncio does not log it as never retrieved

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


async def upgrade_async(
    url: str | URL, revision: str = "head", *, cipher: TokenCipher | None = None
) -> None:
    """Applies migrations up to `revision`; safe when several replicas start at once.

    `cipher` encrypts what a migration must encrypt (Slack tokens stored before they were); without
    it such a migration reads the key from the environment or the SQLite key file.
    """
    # Foreign keys off: a future SQLite table rebuild must not cascade-delete child rows.
    # No statement limit: the migration lock waits for another replica's whole upgrade.
    engine = create_engine(url, sqlite_foreign_keys=False, statement_timeout=None)
    try:
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            config = alembic_config(url)
            config.attributes["token_cipher"] = cipher
            await connection.run_sync(_upgrade_on, config, revision)
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
