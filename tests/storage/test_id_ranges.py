"""Skyvia ids at the int32 edge and one past it fit every id column, on SQLite and PostgreSQL.

Skyvia documents its ids as int32, but nothing stops its counters from growing past that, and a
PostgreSQL `INTEGER` column would then refuse the row ("value out of int32 range"). A refused
watch or delivery row is a lost reply or alert, so the columns holding Skyvia's ids are 64-bit.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from storage.db import Database, upgrade_async
from storage.models import AlertCursor, Binding, Delivery, Mute, Watch
from tests.storage.conftest import NOW

INT32_MAX = 2_147_483_647


@pytest.mark.parametrize("skyvia_id", [INT32_MAX - 1, INT32_MAX, INT32_MAX + 1, 2**63 - 1])
async def test_skyvia_ids_round_trip_through_every_id_column(db: Database, skyvia_id: int) -> None:
    async with db.session() as session:
        binding = Binding(
            team_id="T1",
            channel_id="C1",
            workspace_id=skyvia_id,
            created_by="U1",
            created_at=NOW,
            updated_at=NOW,
            alerts_since=NOW,
        )
        session.add(binding)
        await session.flush()
        session.add_all(
            [
                Mute(binding_id=binding.id, backup_id=skyvia_id, muted_by="U1", muted_at=NOW),
                Watch(
                    team_id="T1",
                    channel_id="C1",
                    message_ts="1700000000.000100",
                    workspace_id=skyvia_id,
                    backup_id=skyvia_id,
                    snapshot_id=skyvia_id,
                    started_by="U1",
                    started_at=NOW,
                    next_poll_at=NOW + timedelta(seconds=5),
                ),
                AlertCursor(
                    workspace_id=skyvia_id, backup_id=skyvia_id, cursor=NOW, next_scan_at=NOW
                ),
                Delivery(
                    team_id="T1",
                    channel_id="C1",
                    snapshot_id=skyvia_id,
                    kind="alert",
                    status="claimed",
                    claimed_by="w1",
                    claimed_at=NOW,
                ),
            ]
        )

    async with db.session() as session:
        assert (await session.scalars(select(Binding.workspace_id))).all() == [skyvia_id]
        assert (await session.scalars(select(Mute.backup_id))).all() == [skyvia_id]
        watch = (await session.scalars(select(Watch))).one()
        assert (watch.workspace_id, watch.backup_id, watch.snapshot_id) == (skyvia_id,) * 3
        cursor = (await session.scalars(select(AlertCursor))).one()
        assert (cursor.workspace_id, cursor.backup_id) == (skyvia_id, skyvia_id)
        assert (await session.scalars(select(Delivery.snapshot_id))).all() == [skyvia_id]


async def test_upgrading_from_0001_keeps_rows_and_then_takes_wide_ids(
    empty_database_url: str,
) -> None:
    await upgrade_async(empty_database_url, "0001")
    database = Database.connect(empty_database_url)
    try:
        async with database.session() as session:
            # Only the columns of 0001: the model has grown since.
            await session.execute(
                insert(AlertCursor.__table__).values(
                    workspace_id=123, backup_id=456, cursor=NOW, next_scan_at=NOW, error_count=0
                )
            )
        await upgrade_async(empty_database_url)
        async with database.session() as session:
            session.add(
                AlertCursor(workspace_id=123, backup_id=INT32_MAX + 1, cursor=NOW, next_scan_at=NOW)
            )
        async with database.session() as session:
            ids = (await session.scalars(select(AlertCursor.backup_id))).all()
        assert sorted(ids) == [456, INT32_MAX + 1]
    finally:
        await database.dispose()
