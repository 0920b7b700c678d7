"""The use cases without Slack: the real Skyvia client against the simulator, a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.services.backups import BackupService, SnapshotQuery, skip_for
from bot.services.bindings import BoundWorkspace
from bot.services.errors import DomainError
from bot.services.schedules import ScheduleService
from bot.services.snapshots import (
    AlreadyActive,
    SnapshotService,
    StartedSnapshot,
    StartedWithoutCard,
    Watched,
)
from bot.simulator import RunningSimulator
from bot.skyvia.client import RetryPolicy, SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound
from storage.db import Database
from storage.repositories import AuditRepository, WatchRepository

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def skyvia(simulator: RunningSimulator) -> AsyncIterator[SkyviaClient]:
    async with httpx.AsyncClient() as http:
        yield SkyviaClient(http, simulator.base_url, retry=RetryPolicy(max_attempts=1))


@pytest.fixture
def bound(simulator: RunningSimulator) -> BoundWorkspace:
    return BoundWorkspace(
        team_id="T1",
        channel_id="C1",
        workspace_id=123,
        workspace_name="Operations",
        alerts_enabled=True,
        paused_reason=None,
        token=simulator.token,
    )


def snapshots(db: Database, skyvia: SkyviaClient) -> SnapshotService:
    return SnapshotService(db=db, skyvia=skyvia, watch_interval=15, clock=lambda: NOW)


async def audit(db: Database) -> list[tuple[str, str, str | None]]:
    async with db.session() as session:
        entries = await AuditRepository(session).recent("T1")
    return [(e.action, e.result, e.detail) for e in reversed(entries)]


async def test_start_posts_the_card_after_the_post_and_then_stores_the_watch(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, simulator: RunningSimulator
) -> None:
    seen: list[StartedSnapshot] = []

    async def post_card(started: StartedSnapshot) -> str:
        # The run exists in Skyvia before the card is posted, and no watch exists yet.
        assert simulator.state.active_snapshot(456) is not None
        async with db.session() as session:
            assert await WatchRepository(session).pending_for_channel("T1", "C1") == []
        seen.append(started)
        return "1700000000.000100"

    result = await snapshots(db, skyvia).start(bound, 456, user_id="U1", post_card=post_card)

    assert isinstance(result, Watched)
    assert seen[0].backup.name == "Nightly CRM" and seen[0].started_by == "U1"
    run_id = seen[0].run.run_id
    assert result.watch.snapshot_id == run_id == simulator.state.snapshots_of(456)[-1].id
    assert (result.watch.started_by, result.watch.state) == ("U1", seen[0].run.state)
    async with db.session() as session:
        watch = await WatchRepository(session).get_for_snapshot("T1", "C1", run_id)
    assert watch is not None
    assert watch.message_ts == "1700000000.000100"
    assert watch.next_poll_at == NOW + timedelta(seconds=15)
    assert watch.last_state == str(seen[0].run.state)
    assert [a[:2] for a in await audit(db)] == [("snapshot", "started")]


async def test_an_active_run_starts_nothing_unless_asked(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, simulator: RunningSimulator
) -> None:
    running = simulator.state.start_snapshot(456)

    async def post_card(started: StartedSnapshot) -> str:
        return "1.1"

    service = snapshots(db, skyvia)
    refused = await service.start(bound, 456, user_id="U1", post_card=post_card)
    assert isinstance(refused, AlreadyActive) and refused.active_run.run_id == running.id
    assert [s.id for s in simulator.state.snapshots_of(456) if s.id >= running.id] == [running.id]
    assert await audit(db) == []

    forced = await service.start(bound, 456, user_id="U1", post_card=post_card, even_if_active=True)
    assert isinstance(forced, Watched) and forced.started.run.run_id != running.id
    assert "while another was active" in (await audit(db))[-1][2]  # type: ignore[operator]


async def test_a_card_that_cannot_be_posted_is_reported_with_the_snapshot_id(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace
) -> None:
    class Refused(DomainError):
        pass

    async def post_card(started: StartedSnapshot) -> str:
        raise Refused("private channel", "Invite me first.")

    with pytest.raises(StartedWithoutCard) as caught:
        await snapshots(db, skyvia).start(bound, 456, user_id="U1", post_card=post_card)
    run_id = caught.value.started.run.run_id
    assert str(run_id) in caught.value.what and caught.value.fix == "Invite me first."
    async with db.session() as session:
        assert await WatchRepository(session).get_for_snapshot("T1", "C1", run_id) is None
    assert (await audit(db))[-1][:2] == ("snapshot", "started")
    assert "no card" in (await audit(db))[-1][2]  # type: ignore[operator]


async def test_failures_before_the_post_start_nothing_and_are_audited(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, simulator: RunningSimulator
) -> None:
    async def post_card(started: StartedSnapshot) -> str:
        raise AssertionError("no card for a snapshot that did not start")

    with pytest.raises(SkyviaNotFound):
        await snapshots(db, skyvia).start(bound, 999, user_id="U1", post_card=post_card)
    simulator.state.inject_errors(
        403, endpoint="POST /workspaces/{workspaceId}/backups/{backupId}/snapshots"
    )
    with pytest.raises(SkyviaAuthError):
        await snapshots(db, skyvia).start(bound, 456, user_id="U1", post_card=post_card)
    assert await audit(db) == [("snapshot", "failed", "SkyviaAuthError 403 (workspace 123)")]


async def test_schedule_set_active_reads_first_and_audits_every_attempt(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, simulator: RunningSimulator
) -> None:
    service = ScheduleService(db=db, skyvia=skyvia)
    off = await service.set_active(bound, 456, active=False, user_id="U1")
    assert (off.active, off.changed) == (False, True)
    assert simulator.state.backup(123, 456).scheduled is False
    again = await service.set_active(bound, 456, active=False, user_id="U2")
    assert (again.active, again.changed) == (False, False)
    assert (await service.status(bound, 456)).active is False
    with pytest.raises(SkyviaNotFound):
        await service.set_active(bound, 999, active=True, user_id="U1")
    assert [(a, r) for a, r, _ in await audit(db)] == [
        ("schedule off", "ok"),
        ("schedule off", "unchanged"),
        ("schedule on", "failed"),
    ]


async def test_reads_page_newest_first_and_keep_until_exclusive(
    skyvia: SkyviaClient, bound: BoundWorkspace, simulator: RunningSimulator
) -> None:
    service = BackupService(skyvia=skyvia, page_size=3)
    first = await service.page(bound, 1)
    third = await service.page(bound, 3)
    assert [b.id for b in first.data] == [456, 457, 458] and first.has_more
    assert [b.id for b in third.data] == [462, 463] and not third.has_more

    listing = await service.snapshots(bound, 456, 1, SnapshotQuery())
    starts = [s.start_time for s in listing.snapshots]
    assert starts == sorted(starts, reverse=True) and listing.has_more
    newest = listing.snapshots[0]
    assert newest.start_time is not None
    until = await service.snapshots(bound, 456, 1, SnapshotQuery(until=newest.start_time))
    assert newest.snapshot_id not in [s.snapshot_id for s in until.snapshots]

    details = await service.details(bound, 456)
    assert details.schedule_active is True and len(details.last_snapshots) == 5
    log = await service.snapshot_log(bound, 456, newest.snapshot_id)
    assert log.snapshot.log


def test_skip_for_pages_from_one() -> None:
    assert [skip_for(p) for p in (1, 2, 3)] == [0, 10, 20]
    with pytest.raises(ValueError):
        skip_for(0)
