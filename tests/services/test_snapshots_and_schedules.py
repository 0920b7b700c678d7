"""The use cases without Slack: the real Skyvia client against the simulator, a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.services.backups import BackupService, SnapshotQuery, skip_for
from bot.services.bindings import BoundWorkspace
from bot.services.errors import NotInChannel
from bot.services.schedules import ScheduleService
from bot.services.snapshots import (
    CARD_OWNER,
    WATCH_HOLD,
    WATCH_RETRY_PAUSE_MAX,
    AlreadyActive,
    CardRefused,
    NothingStarted,
    SnapshotService,
    StartedSnapshot,
    StartedUnwatched,
    Watched,
    card_ledger_key,
)
from bot.simulator import RunningSimulator
from bot.skyvia.client import RetryPolicy, SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound
from bot.slack.messages.refusals import refusal_words
from storage.db import Database
from storage.models import DeliveryStatus
from storage.repositories import AuditRepository, DeliveryLedger, WatchRepository

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


async def card_claim(db: Database, run_id: int) -> tuple[str, str | None] | None:
    """The ledger row of the run's card: (status, ts), or None when there is none."""
    key = card_ledger_key("T1", "C1", run_id)
    async with db.session() as session:
        row = (await DeliveryLedger(session).get_many([key])).get(key)
    return None if row is None else (row.status, row.message_ts)


async def test_start_records_the_watch_then_posts_the_card(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, simulator: RunningSimulator
) -> None:
    seen: list[StartedSnapshot] = []

    async def post_card(started: StartedSnapshot) -> str:
        # The run exists in Skyvia and is watched (without a card yet) before the card is
        # posted, and the card's key is claimed in the ledger.
        assert simulator.state.active_snapshot(456) is not None
        async with db.session() as session:
            pending = await WatchRepository(session).pending_for_channel("T1", "C1")
        assert [(w.snapshot_id, w.message_ts) for w in pending] == [(started.run.run_id, None)]
        assert await card_claim(db, started.run.run_id) == (DeliveryStatus.CLAIMED, None)
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
    assert result.watch.message_ts == "1700000000.000100"
    assert await card_claim(db, run_id) == (DeliveryStatus.SENT, "1700000000.000100")
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


@pytest.mark.parametrize("refusal", [CardRefused("ratelimited"), NotInChannel()])
async def test_a_refused_card_leaves_the_run_watched_and_the_card_to_the_watcher(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, refusal: Exception
) -> None:
    async def post_card(started: StartedSnapshot) -> str:
        raise refusal

    result = await snapshots(db, skyvia).start(bound, 456, user_id="U1", post_card=post_card)
    assert isinstance(result, Watched) and result.watch.message_ts is None
    run_id = result.started.run.run_id
    async with db.session() as session:
        watch = await WatchRepository(session).get_for_snapshot("T1", "C1", run_id)
    assert watch is not None and watch.is_pending and watch.message_ts is None
    assert await card_claim(db, run_id) is None  # released: nothing was posted
    assert [a[:2] for a in await audit(db)] == [("snapshot", "started")]


async def test_a_card_without_an_answer_keeps_its_claim_for_the_read_back(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace
) -> None:
    async def post_card(started: StartedSnapshot) -> str:
        raise ConnectionResetError("dropped after sending")

    result = await snapshots(db, skyvia).start(bound, 456, user_id="U1", post_card=post_card)
    assert isinstance(result, Watched) and result.watch.message_ts is None
    run_id = result.started.run.run_id
    assert await card_claim(db, run_id) == (DeliveryStatus.CLAIMED, None)
    async with db.session() as session:
        key = card_ledger_key("T1", "C1", run_id)
        row = (await DeliveryLedger(session).get_many([key]))[key]
    assert row.claimed_by == CARD_OWNER


async def test_a_watch_that_cannot_be_recorded_is_held_then_told_plainly(
    db: Database,
    skyvia: SkyviaClient,
    bound: BoundWorkspace,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tries: list[int] = []
    pauses: list[float] = []

    async def database_down(self: WatchRepository, **kwargs: object) -> None:
        tries.append(1)
        raise ConnectionRefusedError("database down")

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    async def post_card(started: StartedSnapshot) -> str:
        raise AssertionError("no card for a run nothing will follow")

    monkeypatch.setattr(WatchRepository, "add", database_down)
    service = SnapshotService(
        db=db, skyvia=skyvia, watch_interval=15, clock=lambda: NOW, sleep=sleep
    )
    with pytest.raises(StartedUnwatched) as caught:
        await service.start(bound, 456, user_id="U1", post_card=post_card)
    run_id = caught.value.started.run.run_id
    assert run_id == simulator.state.snapshots_of(456)[-1].id  # the run did start
    assert len(tries) == len(pauses) + 1
    # Held for as long as a database restart takes, and no longer.
    assert WATCH_HOLD - WATCH_RETRY_PAUSE_MAX <= sum(pauses) <= WATCH_HOLD
    assert max(pauses) == WATCH_RETRY_PAUSE_MAX
    what, fix = refusal_words(caught.value)
    assert str(run_id) in what and "will not" in what
    assert "/skyvia backup 456" in fix


async def test_a_database_that_does_not_answer_starts_nothing(
    db: Database,
    skyvia: SkyviaClient,
    bound: BoundWorkspace,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run the bot could not record would run unfollowed: none is started (issue 18, 0)."""
    runs_before = len(simulator.state.snapshots_of(456))

    async def down() -> bool:
        return False

    async def post_card(started: StartedSnapshot) -> str:
        raise AssertionError("nothing was started")

    monkeypatch.setattr(db, "ping", down)
    with pytest.raises(NothingStarted) as caught:
        await snapshots(db, skyvia).start(bound, 456, user_id="U1", post_card=post_card)
    assert len(simulator.state.snapshots_of(456)) == runs_before
    what, fix = refusal_words(caught.value)
    assert "nothing was started" in what
    assert "(456)" in what and "Try again" in fix


async def test_a_watch_recorded_on_a_later_try_goes_on_as_usual(
    db: Database, skyvia: SkyviaClient, bound: BoundWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    add = WatchRepository.add
    failures = [ConnectionRefusedError("database down")]

    async def flaky(self: WatchRepository, **kwargs: object) -> object:
        if failures:
            raise failures.pop()
        return await add(self, **kwargs)  # type: ignore[arg-type]

    async def no_sleep(seconds: float) -> None:
        return None

    async def post_card(started: StartedSnapshot) -> str:
        return "1.2"

    monkeypatch.setattr(WatchRepository, "add", flaky)
    service = SnapshotService(
        db=db, skyvia=skyvia, watch_interval=15, clock=lambda: NOW, sleep=no_sleep
    )
    result = await service.start(bound, 456, user_id="U1", post_card=post_card)
    assert isinstance(result, Watched) and result.watch.message_ts == "1.2"
    assert await card_claim(db, result.started.run.run_id) == (DeliveryStatus.SENT, "1.2")


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
    assert [r.backup.id for r in first.rows] == [456, 457, 458] and first.has_more
    assert [r.backup.id for r in third.rows] == [462, 463] and not third.has_more
    assert (first.pages, first.total) == (3, 8)
    never = await service.page(bound, 2)  # 459, 460, 461: Zendesk tickets (461) never ran
    assert [(r.backup.id, r.last_run is None, r.known) for r in never.rows][-1] == (461, True, True)
    assert first.rows[0].last_run is not None
    crm = await service.page(bound, 1, "ＣＲＭ")  # compared NFKC and case-folded, like names
    assert [r.backup.id for r in crm.rows] == [456] and (crm.pages, crm.total) == (1, 1)
    service.note_schedule(bound, 456, False)  # a switch from Slack shows without a new listing
    assert crm.rows[0].backup.scheduled is True
    assert (await service.page(bound, 1, "crm")).rows[0].backup.scheduled is False

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
