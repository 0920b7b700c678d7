"""The soak's database side: a private PostgreSQL cluster, aged rows for retention, row counts.

Retention never deletes anything younger than its floors (an hour to days, see
`bot.config.retention_floors`), far longer than a soak. So before the bot starts, rows aged
40 days are written of every kind retention prunes (clicks, delivery records, finished watches,
audit entries): the table's "before" counts include them, and "after" shows they went while
the soak's own rows stayed. The audit log has no floor, so its retention is set short and
entries the soak itself wrote are pruned too.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from benchmarks.stack import TEAM_ID
from bot.devtools.private_postgres import PrivatePostgres
from storage.db import Database, upgrade_async
from storage.models import (
    AlertCursor,
    AuditEntry,
    Binding,
    Delivery,
    DeliveryKind,
    ProcessedClick,
    Watch,
)

AGE = timedelta(days=40)
TABLES = {
    "bindings": Binding,
    "watches": Watch,
    "alert_cursors": AlertCursor,
    "deliveries": Delivery,
    "processed_clicks": ProcessedClick,
    "audit_log": AuditEntry,
}


@contextlib.asynccontextmanager
async def private_cluster() -> AsyncIterator[tuple[PrivatePostgres, str]]:
    """A PostgreSQL cluster of the soak's own (it is restarted mid-run), migrated to head."""
    cluster = PrivatePostgres.create()
    try:
        cluster.start()
        url = cluster.url()
        await upgrade_async(url)
        yield cluster, url
    finally:
        cluster.remove()


async def seed_aged_rows(database_url: str, per_kind: int) -> None:
    """`per_kind` rows of each prunable kind, 40 days old (in channel C0AGED, never posted to)."""
    old = datetime.now(UTC) - AGE
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            for i in range(per_kind):
                snapshot = 900_000 + i
                session.add(ProcessedClick(key=f"aged-{i}", user_id="U0AGED", created_at=old))
                session.add(
                    Delivery(
                        team_id=TEAM_ID,
                        channel_id="C0AGED",
                        snapshot_id=snapshot,
                        kind=DeliveryKind.THREAD_REPLY.value,
                        status="sent",
                        claimed_by="aged",
                        claimed_at=old,
                        message_ts=f"{1_000_000 + i}.000100",
                        sent_at=old,
                    )
                )
                session.add(
                    Watch(
                        team_id=TEAM_ID,
                        channel_id="C0AGED",
                        message_ts=f"{1_000_000 + i}.000100",
                        workspace_id=1,
                        backup_id=1,
                        backup_name="aged",
                        snapshot_id=snapshot,
                        started_by="U0AGED",
                        started_at=old,
                        last_state="Succeeded",
                        next_poll_at=old,
                        finished_at=old,
                        outcome="Succeeded",
                    )
                )
                session.add(
                    AuditEntry(
                        at=old,
                        team_id=TEAM_ID,
                        channel_id="C0AGED",
                        user_id="U0AGED",
                        action="snapshot",
                        target="aged",
                        result="ok",
                    )
                )
    finally:
        await db.dispose()


async def row_counts(database_url: str) -> dict[str, int]:
    db = Database.connect(database_url)
    try:
        async with db.session() as session:
            return {
                name: int((await session.execute(select(func.count()).select_from(model))).scalar())
                for name, model in TABLES.items()
            }
    finally:
        await db.dispose()
