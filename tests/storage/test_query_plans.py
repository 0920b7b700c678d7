"""The hot queries and the pruning deletes search an index; none reads a whole table.

Each query is run through its repository method while its SQL is captured, then explained
with the same parameters: SQLite's `EXPLAIN QUERY PLAN` must SEARCH every table it touches (a
SCAN, even of a whole index, reads it all), and PostgreSQL's plan, with sequential scans
disabled so a handful of rows cannot make one the cheaper choice, must reach every table through
an index condition (after ANALYZE, as autovacuum would have run). A query listed here that
loses its index fails on both databases.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import AuditEntry, Base, Delivery, DeliveryKind, ProcessedClick, Watch
from storage.repositories import (
    AlertCursorRepository,
    AuditRepository,
    BindingRepository,
    ClickRepository,
    DeliveryLedger,
    WatchRepository,
    WorkerLeaseRepository,
)
from tests.storage.conftest import NOW

Call = Callable[[AsyncSession], Awaitable[object]]
CUTOFF = NOW - timedelta(days=59)
"""Retention runs often: what is past its age at a run is a small part of a table."""
KEYS = [("T1", "C1", 1, DeliveryKind.ALERT), ("T1", "C2", 2, DeliveryKind.THREAD_REPLY)]


@dataclass(frozen=True)
class HotQuery:
    name: str
    call: Call
    indexes: dict[str, str | None] = field(default_factory=dict)
    """Table -> the index it must be searched by (None: any index)."""


HOT_QUERIES = [
    HotQuery(
        "alerts already sent",
        lambda s: DeliveryLedger(s).sent_keys([1, 2, 3], DeliveryKind.ALERT),
        {"deliveries": "ix_deliveries_snapshot_id_kind_status"},
    ),
    HotQuery(
        "watched snapshots",
        lambda s: WatchRepository(s).watched_snapshots([1, 2, 3]),
        {"watches": "ix_watches_snapshot_id"},
    ),
    HotQuery(
        "pending watches",
        lambda s: WatchRepository(s).count_pending(),
        {"watches": "ix_watches_finished_at"},
    ),
    HotQuery(
        "due watches",
        lambda s: WatchRepository(s).claim_due("w", NOW, 10, 60.0),
        {"watches": None},
    ),
    HotQuery(
        "a channel's pending watches",
        lambda s: WatchRepository(s).pending_for_channel("T1", "C1"),
        {"watches": "uq_watches_team_id_channel_id_snapshot_id"},
    ),
    HotQuery(
        "due alert cursors",
        lambda s: AlertCursorRepository(s).claim_due("w", NOW, 10, 60.0),
        {"alert_cursors": "ix_alert_cursors_next_scan_at"},
    ),
    HotQuery(
        "ledger rows by key",
        lambda s: DeliveryLedger(s).get_many(KEYS),
        {"deliveries": None},
    ),
    HotQuery(
        "a channel's binding",
        lambda s: BindingRepository(s).get("T1", "C1"),
        {"bindings": "uq_bindings_team_id_channel_id"},
    ),
    HotQuery(
        "bindings of due watches",
        lambda s: BindingRepository(s).get_many([("T1", "C1"), ("T1", "C2")]),
        {"bindings": "uq_bindings_team_id_channel_id"},
    ),
    HotQuery(
        "the job's turn",
        lambda s: WorkerLeaseRepository(s).take_turn("retention", "w", NOW, 60.0),
        {"worker_leases": None},
    ),
    HotQuery(
        "pruning clicks",
        lambda s: ClickRepository(s).prune(CUTOFF, 10),
        {"processed_clicks": "ix_processed_clicks_created_at"},
    ),
    HotQuery(
        "pruning the ledger",
        lambda s: DeliveryLedger(s).prune(CUTOFF, alerts_claimed_before=CUTOFF, limit=10),
        {"deliveries": "ix_deliveries_claimed_at", "watches": None},
    ),
    HotQuery(
        "pruning finished watches",
        lambda s: WatchRepository(s).prune_finished(CUTOFF, 10),
        {"watches": "ix_watches_finished_at"},
    ),
    HotQuery(
        "pruning the audit log",
        lambda s: AuditRepository(s).prune(CUTOFF, 10),
        {"audit_log": "ix_audit_log_at"},
    ),
]


@contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SQL (and its parameters) of every single statement run on `db` within the block."""
    statements: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        _conn, _cursor, statement, parameters, _context, executemany = args
        if not executemany:
            statements.append((statement, parameters))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


ROWS = 3000
"""Rows per table: enough that PostgreSQL's statistics describe a table in use, not a toy."""


def _table_rows(at: Callable[[int], datetime]) -> dict[type[Base], list[dict[str, Any]]]:
    """A realistic spread: times over 60 days, almost every ledger row sent, watches finished."""
    watches, deliveries, clicks, audit = [], [], [], []
    for n in range(ROWS):
        team, channel, when = "T1", f"C{n % 50}", at(n)
        watches.append(
            {
                "team_id": team,
                "channel_id": channel,
                "message_ts": f"1700000000.{n:06d}",
                "workspace_id": 7,
                "backup_id": 456,
                "snapshot_id": n,
                "started_by": "U1",
                "started_at": when,
                "next_poll_at": when,
                "poll_errors": 0,
                "finished_at": when if n % 100 else None,
            }
        )
        kind = DeliveryKind.ALERT if n % 2 else DeliveryKind.THREAD_REPLY
        status = "sent" if n % 200 else "claimed"
        deliveries.append(
            {
                "team_id": team,
                "channel_id": channel,
                "snapshot_id": n,
                "kind": kind,
                "status": status,
                "claimed_by": "w",
                "claimed_at": when,
            }
        )
        clicks.append({"key": f"k{n}", "user_id": "U1", "created_at": when})
        audit.append(
            {"at": when, "team_id": team, "user_id": "U1", "action": "connect", "result": "ok"}
        )
    return {Watch: watches, Delivery: deliveries, ProcessedClick: clicks, AuditEntry: audit}


async def seed(db: Database) -> None:
    """`ROWS` rows of each growing table, and statistics of them where the database keeps any."""

    def at(n: int) -> datetime:
        return NOW - timedelta(days=60) + timedelta(days=60) * n / ROWS

    async with db.session() as session:
        for model, values in _table_rows(at).items():
            await session.execute(insert(model.__table__), values)  # type: ignore[arg-type]
        await BindingRepository(session).upsert(
            team_id="T1",
            channel_id="C1",
            workspace_id=7,
            workspace_name="Operations",
            token_ciphertext=None,
            created_by="U1",
            now=NOW,
        )
        await AlertCursorRepository(session).ensure(7, 456, "Nightly CRM", since=NOW)
    if db.engine.dialect.name == "postgresql":  # as autovacuum keeps them
        async with db.engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")


def sqlite_scans(plan: list[str], table: str) -> list[str]:
    """Accesses of `table` that read it whole (or whole through an index); [] if none."""
    accesses = [line for line in plan if re.search(rf"\b{table}\b", line)]
    return [line for line in accesses if not line.startswith("SEARCH ")]


def sqlite_indexes(plan: list[str]) -> set[str]:
    """Indexes searched; a unique constraint's is named as the constraint would be elsewhere."""
    found = set()
    for line in plan:
        match = re.match(r"SEARCH (\w+) USING (?:COVERING )?INDEX (\w+)", line)
        if match:
            table, index = match.groups()
            auto = index.startswith(f"sqlite_autoindex_{table}_")
            found.add(f"uq_{table}" if auto else index)
    return found


def pg_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from pg_nodes(child)


def pg_scans(plan: dict[str, Any], table: str) -> list[str]:
    """Scans of `table` with no index condition: they read it whole; [] if none."""
    problems = []
    for scan in pg_nodes(plan):
        if scan.get("Relation Name") != table or "Scan" not in scan["Node Type"]:
            continue
        searched = "Index Cond" in scan
        if scan["Node Type"] == "Bitmap Heap Scan":
            searched = any("Index Cond" in n for n in pg_nodes(scan))
        if not searched:
            problems.append(f"{scan['Node Type']} on {table} without an index condition")
    return problems


def pg_indexes(plan: dict[str, Any]) -> set[str]:
    return {n["Index Name"] for n in pg_nodes(plan) if "Index Cond" in n and "Index Name" in n}


def uses(used: set[str], index: str) -> bool:
    """`index` is among those used (on SQLite a unique constraint's index has its own name)."""
    return index in used or any(index.startswith(f"{name}_") for name in used)


async def explain(session: AsyncSession, statement: str, parameters: Any) -> Any:
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        result = await connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {statement}", tuple(parameters)
        )
        document = result.scalar_one()
        return (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    return [str(row[-1]) for row in result.all()]


@pytest.mark.parametrize("query", HOT_QUERIES, ids=[q.name for q in HOT_QUERIES])
async def test_the_query_searches_an_index(db: Database, query: HotQuery) -> None:
    await seed(db)
    with captured(db) as statements:
        async with db.session() as session:
            await query.call(session)
    used: dict[str, set[str]] = {table: set() for table in query.indexes}
    for statement, parameters in statements:
        if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            continue
        tables = [t for t in query.indexes if re.search(rf"\b{t}\b", statement)]
        if not tables:
            continue
        async with db.session() as session:
            plan = await explain(session, statement, parameters)
        for table in tables:
            if isinstance(plan, dict):
                scans, indexes = pg_scans(plan, table), pg_indexes(plan)
            else:
                scans, indexes = sqlite_scans(plan, table), sqlite_indexes(plan)
            assert not scans, f"{statement}\n{plan}"
            used[table] |= indexes
    for table, index in query.indexes.items():
        assert used[table], f"{query.name}: no statement on {table} was explained"
        assert index is None or uses(used[table], index), f"{query.name}: {used[table]}"


def test_the_plan_checks_catch_a_full_scan() -> None:
    assert sqlite_scans(["SCAN watches"], "watches") == ["SCAN watches"]
    whole = "SCAN watches USING COVERING INDEX ix_watches_next_poll_at"
    assert sqlite_scans([whole], "watches") == [whole]
    assert sqlite_indexes(["SEARCH bindings USING INDEX sqlite_autoindex_bindings_1 (a=?)"]) == {
        "uq_bindings"
    }
    assert uses({"uq_bindings"}, "uq_bindings_team_id_channel_id")
    assert not uses({"ix_watches_snapshot_id"}, "ix_watches_finished_at")
    seq = {"Node Type": "Seq Scan", "Relation Name": "watches"}
    assert pg_scans(seq, "watches") == ["Seq Scan on watches without an index condition"]
    whole_index = {"Node Type": "Index Scan", "Relation Name": "watches", "Index Name": "pk"}
    assert pg_scans(whole_index, "watches") != []
    assert pg_indexes(whole_index) == set()
