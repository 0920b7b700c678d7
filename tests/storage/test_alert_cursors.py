from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.db import Database
from storage.repositories import AlertCursorRepository, BindingRepository
from storage.repositories.alert_cursors import CursorAdvance, ListedBackup
from tests.storage.conftest import NOW

LEASE = 60.0


async def test_ensure_creates_a_due_cursor_and_never_moves_an_existing_one(db: Database) -> None:
    async with db.session() as session:
        repo = AlertCursorRepository(session)
        created = await repo.ensure(7, 456, "Nightly CRM", NOW)
        earlier = await repo.ensure(7, 456, "Nightly CRM", NOW - timedelta(days=1))
        later = await repo.ensure(7, 456, "Renamed", NOW + timedelta(days=1))

    assert (created.cursor, created.next_scan_at, created.error_count) == (NOW, NOW, 0)
    assert earlier.cursor == NOW and later.cursor == NOW
    assert later.backup_name == "Renamed"


async def test_claim_advance_and_errors(db: Database) -> None:
    async with db.session() as session:
        repo = AlertCursorRepository(session)
        await repo.ensure(7, 1, "a", NOW - timedelta(minutes=2))
        await repo.ensure(7, 2, "b", NOW - timedelta(minutes=1))
        await repo.ensure(7, 3, "c", NOW + timedelta(minutes=1))  # not due

    async with db.session() as session:
        claimed = await AlertCursorRepository(session).claim_due("A", NOW, 10, LEASE)
    async with db.session() as session:
        again = await AlertCursorRepository(session).claim_due("B", NOW, 10, LEASE)

    assert [c.backup_id for c in claimed] == [1, 2] and again == []
    assert all(c.lease_owner == "A" for c in claimed)

    scanned_to = NOW - timedelta(seconds=5)
    async with db.session() as session:
        repo = AlertCursorRepository(session)
        await repo.advance_many([CursorAdvance(7, 1, "B", scanned_to, NOW)])  # not the owner
        not_ours = await repo.get(7, 1)
        assert not_ours is not None and not_ours.lease_owner == "A"
        assert not_ours.cursor == NOW - timedelta(minutes=2)
        await repo.advance_many([CursorAdvance(7, 1, "A", scanned_to, NOW + timedelta(minutes=1))])
        assert await repo.record_error(7, 2, owner="A", next_scan_at=NOW) == 1
    async with db.session() as session:
        [retry] = await AlertCursorRepository(session).claim_due("A", NOW, 10, LEASE)
        assert (
            await AlertCursorRepository(session).record_error(
                7, 2, owner="A", next_scan_at=NOW + timedelta(minutes=2)
            )
            == 2
        )
        assert (
            await AlertCursorRepository(session).record_error(7, 2, owner="A", next_scan_at=NOW)
            is None
        )  # lease already released

    async with db.session() as session:
        first = await AlertCursorRepository(session).get(7, 1)
    assert retry.backup_id == 2
    assert first is not None and first.cursor == scanned_to
    assert first.next_scan_at == NOW + timedelta(minutes=1)
    assert first.lease_owner is None and first.error_count == 0


async def test_two_scanners_never_share_a_cursor(db: Database, replica: Database) -> None:
    async with db.session() as session:
        for backup_id in range(1, 13):
            await AlertCursorRepository(session).ensure(7, backup_id, None, NOW)

    async def claim(database: Database, owner: str) -> list[int]:
        async with database.session() as session:
            rows = await AlertCursorRepository(session).claim_due(owner, NOW, 3, LEASE)
            return [row.backup_id for row in rows]

    batches = await asyncio.gather(*(claim(d, f"s{i}") for i, d in enumerate([db, replica] * 3)))

    claimed = [backup_id for batch in batches for backup_id in batch]
    assert sorted(claimed) == list(range(1, 13))


async def test_cursors_of_workspaces_nobody_listens_to_are_deleted(db: Database) -> None:
    async with db.session() as session:
        bindings = BindingRepository(session)
        for channel, workspace in (("C1", 7), ("C2", 8), ("C3", 9)):
            await bindings.upsert(
                team_id="T1",
                channel_id=channel,
                workspace_id=workspace,
                workspace_name=None,
                token_ciphertext=None,
                created_by="U1",
                now=NOW,
            )
        await bindings.set_alerts("T1", "C2", False, NOW)
        await bindings.pause("T1", "C3", "is_archived", NOW)
        cursors = AlertCursorRepository(session)
        for workspace in (7, 8, 9, 10):
            await cursors.ensure(workspace, 1, None, NOW)
        await cursors.ensure(7, 2, None, NOW)
        await cursors.ensure(7, 3, None, NOW)

    async with db.session() as session:
        cursors = AlertCursorRepository(session)
        assert await cursors.delete_uncovered() == 3
        assert await cursors.retain_backups(7, [1, 3]) == 1
        left = [(c.workspace_id, c.backup_id) for c in await cursors.list_for_workspace(7)]
        others = [await cursors.get(w, 1) for w in (8, 9, 10)]

    assert left == [(7, 1), (7, 3)] and others == [None, None, None]


async def test_retaining_no_backups_deletes_nothing(db: Database) -> None:
    """An empty listing is no proof that every backup was deleted."""
    async with db.session() as session:
        cursors = AlertCursorRepository(session)
        await cursors.ensure(7, 1, None, NOW)
        await cursors.ensure(7, 2, None, NOW)
        assert await cursors.retain_backups(7, []) == 0
        assert [c.backup_id for c in await cursors.list_for_workspace(7)] == [1, 2]


async def test_start_listing_lets_one_replica_relist_a_workspace(db: Database) -> None:
    async with db.session() as session:
        cursors = AlertCursorRepository(session)
        assert await cursors.start_listing(123, now=NOW, listed_before=NOW)  # no cursors yet
        await cursors.ensure(123, 456, None, NOW)
        period = timedelta(minutes=10)
        assert await cursors.start_listing(123, now=NOW, listed_before=NOW - period)
        assert not await cursors.start_listing(123, now=NOW, listed_before=NOW - period)
        later = NOW + period * 2
        assert await cursors.start_listing(123, now=later, listed_before=later - period)


async def test_forget_runs_makes_the_next_stale_check_read_the_runs_again(db: Database) -> None:
    """A channel that changes its stale limit must not wait an hour for the cached runs to age."""
    async with db.session() as session:
        repo = AlertCursorRepository(session)
        await repo.ensure(7, 456, "Nightly CRM", NOW)
        await repo.ensure(7, 457, "Other", NOW)
    async with db.session() as session:
        await AlertCursorRepository(session).claim_due("A", NOW, 10, LEASE)
    async with db.session() as session:
        repo = AlertCursorRepository(session)
        for backup_id in (456, 457):
            await repo.record_runs(
                7, backup_id, owner="A", checked_at=NOW, cadence_seconds=60.0, last_good=(1, NOW)
            )
    async with db.session() as session:
        await AlertCursorRepository(session).forget_runs(7, 456)
    async with db.session() as session:
        forgotten = await AlertCursorRepository(session).get(7, 456)
        kept = await AlertCursorRepository(session).get(7, 457)

    assert forgotten is not None and forgotten.runs_checked_at is None
    assert forgotten.last_good_at == NOW  # only the read's age is forgotten, not what it learned
    assert kept is not None and kept.runs_checked_at == NOW


async def test_advance_many_moves_only_forward_and_only_the_owners_cursors(db: Database) -> None:
    """A scan round's cursors in one statement: each moves forward (never back), is due
    again at its own time, and is released; one whose lease another holds is left alone."""
    async with db.session() as session:
        repo = AlertCursorRepository(session)
        for backup_id in (1, 2, 3):
            await repo.ensure(7, backup_id, None, NOW - timedelta(minutes=backup_id))
        await repo.claim_due("A", NOW, 2, LEASE)  # backups 3 and 2 (oldest due first)
        await repo.claim_due("B", NOW, 1, LEASE)  # backup 1
    later = NOW + timedelta(minutes=5)
    async with db.session() as session:
        await AlertCursorRepository(session).advance_many(
            [
                CursorAdvance(7, 3, "A", NOW, later),
                CursorAdvance(7, 2, "A", NOW - timedelta(hours=1), later + timedelta(seconds=1)),
                CursorAdvance(7, 1, "A", NOW, later),  # B's lease: not ours to write
            ]
        )
    async with db.session() as session:
        rows = {c.backup_id: c for c in await AlertCursorRepository(session).list_for_workspace(7)}
    assert (rows[3].cursor, rows[3].next_scan_at, rows[3].lease_owner) == (NOW, later, None)
    assert rows[2].cursor == NOW - timedelta(minutes=2)  # never backwards
    assert rows[2].next_scan_at == later + timedelta(seconds=1) and rows[2].lease_owner is None
    assert rows[1].lease_owner == "B" and rows[1].cursor == NOW - timedelta(minutes=1)


async def test_ensure_many_adds_new_cursors_and_updates_names_and_schedules_only(
    db: Database,
) -> None:
    async with db.session() as session:
        await AlertCursorRepository(session).ensure(7, 1, "Nightly", NOW, scheduled=True)
        await AlertCursorRepository(session).ensure(7, 2, "Weekly", NOW, scheduled=True)
    later = NOW + timedelta(hours=1)
    async with db.session() as session:
        await AlertCursorRepository(session).ensure_many(
            7,
            [
                ListedBackup(1, "Nightly CRM", scheduled=False),  # renamed, schedule off
                ListedBackup(2, None, scheduled=None),  # nothing known: keeps what it had
                ListedBackup(3, "New", scheduled=True),
            ],
            later,
        )
    async with db.session() as session:
        rows = {c.backup_id: c for c in await AlertCursorRepository(session).list_for_workspace(7)}
    assert (rows[1].backup_name, rows[1].scheduled, rows[1].cursor) == ("Nightly CRM", False, NOW)
    assert (rows[2].backup_name, rows[2].scheduled, rows[2].cursor) == ("Weekly", True, NOW)
    assert (rows[3].backup_name, rows[3].scheduled) == ("New", True)
    assert rows[3].cursor == later and rows[3].next_scan_at == later and rows[3].error_count == 0
