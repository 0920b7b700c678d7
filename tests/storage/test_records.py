"""The records the repositories hand out copy every column of their row, each into its own field.

They are built positionally from selected columns, so a field out of order would put one
column's value in another's place: every value below is distinct from the others of its type.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from storage.db import Database
from storage.models import AlertCursor, Base, Binding
from storage.records import BindingRecord, CursorRecord
from storage.repositories import AlertCursorRepository, BindingRepository
from tests.storage.conftest import NOW


@pytest.mark.parametrize(
    ("model", "record"), [(Binding, BindingRecord), (AlertCursor, CursorRecord)]
)
def test_a_record_has_a_field_for_every_column(model: type[Base], record: type[object]) -> None:
    columns = {column.key for column in model.__table__.columns}
    assert set(record.__dataclass_fields__) == columns  # type: ignore[attr-defined]


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


async def test_a_binding_reads_back_as_it_was_written(db: Database) -> None:
    async with db.session() as session:
        repo = BindingRepository(session)
        written = await repo.upsert(
            team_id="T1",
            channel_id="C1",
            workspace_id=7,
            workspace_name="Ops",
            token_ciphertext="sealed",
            created_by="U1",
            now=NOW,
            enterprise_id="E1",
        )
        await repo.set_alerts("T1", "C1", False, NOW + _minutes(1))
        await repo.set_alerts("T1", "C1", True, NOW + _minutes(2))
        await repo.pause("T1", "C1", "archived", NOW + _minutes(3))
        await repo.set_mentions("T1", "C1", ["U2", "S3"], NOW + _minutes(4))
    expected = BindingRecord(
        id=written.id,
        team_id="T1",
        enterprise_id="E1",
        channel_id="C1",
        workspace_id=7,
        workspace_name="Ops",
        token_ciphertext="sealed",
        created_by="U1",
        created_at=NOW,
        alerts_enabled=True,
        alerts_since=NOW + _minutes(2),
        paused_reason="archived",
        paused_at=NOW + _minutes(3),
        updated_at=NOW + _minutes(4),
        alert_mentions="U2 S3",
    )
    assert written == replace(
        expected,
        alerts_since=NOW,
        paused_reason=None,
        paused_at=None,
        updated_at=NOW,
        alert_mentions=None,
    )

    async with db.session() as session:
        repo = BindingRepository(session)
        assert await repo.get("T1", "C1") == expected
        assert await repo.list_for_team("T1") == [expected]
        assert await repo.list_for_workspace(7) == [expected]
        assert await repo.list_with_own_token() == [expected]
        assert await repo.get_many([("T1", "C1")]) == {("T1", "C1"): expected}
    assert expected.mention_ids == ("U2", "S3") and expected.is_paused
    assert not expected.uses_default_token and "sealed" not in repr(expected)


async def test_a_cursor_reads_back_as_it_was_written(db: Database) -> None:
    async with db.session() as session:
        await AlertCursorRepository(session).ensure(7, 456, "Nightly CRM", NOW, scheduled=True)
    async with db.session() as session:
        [claimed] = await AlertCursorRepository(session).claim_due("A", NOW, 10, 60.0)
    assert (claimed.workspace_id, claimed.backup_id, claimed.backup_name) == (7, 456, "Nightly CRM")
    assert (claimed.lease_owner, claimed.cursor, claimed.next_scan_at) == ("A", NOW, NOW)
    assert claimed.lease_until is not None

    async with db.session() as session:
        repo = AlertCursorRepository(session)
        assert await repo.record_runs(
            7,
            456,
            owner="A",
            checked_at=NOW + _minutes(1),
            cadence_seconds=60.0,
            last_good=(11, NOW - _minutes(60)),
            usual_run_seconds=120.0,
            last_start_at=NOW - _minutes(30),
        )
        assert await repo.record_active(
            7, 456, owner="A", asked_at=NOW + _minutes(2), running=(12, NOW - _minutes(10))
        )
        assert await repo.start_listing(7, now=NOW + _minutes(3), listed_before=NOW + _minutes(3))
        assert await repo.record_error(7, 456, owner="A", next_scan_at=NOW + _minutes(4)) == 1
    expected = CursorRecord(
        workspace_id=7,
        backup_id=456,
        backup_name="Nightly CRM",
        cursor=NOW,
        next_scan_at=NOW + _minutes(4),
        lease_owner=None,
        lease_until=None,
        error_count=1,
        last_listed_at=NOW + _minutes(3),
        scheduled=True,
        cadence_seconds=60.0,
        last_good_snapshot_id=11,
        last_good_at=NOW - _minutes(60),
        runs_checked_at=NOW + _minutes(1),
        usual_run_seconds=120.0,
        last_start_at=NOW - _minutes(30),
        running_snapshot_id=12,
        running_since=NOW - _minutes(10),
        active_checked_at=NOW + _minutes(2),
    )

    async with db.session() as session:
        repo = AlertCursorRepository(session)
        assert await repo.get(7, 456) == expected
        assert await repo.list_for_workspace(7) == [expected]
        assert await repo.get(7, 457) is None
