"""SkyviaClient against the live simulator over loopback: endpoints, paging, errors, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bot.devtools.waiting import wait_until
from bot.simulator import RunningSimulator
from bot.skyvia.client import RetryPolicy, SkyviaClient, build_http_client
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound, SkyviaUnavailable
from bot.skyvia.models import SnapshotState

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, max_total=10)
POST_SNAPSHOT = "POST /workspaces/{workspaceId}/backups/{backupId}/snapshots"
GET_ACTIVE = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/active"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(timeout=5.0) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, simulator: RunningSimulator) -> SkyviaClient:
    return SkyviaClient(http, simulator.base_url, retry=FAST)


async def wait_until_finished(
    client: SkyviaClient, token: str, backup_id: int, snapshot_id: int
) -> SnapshotState:
    async def finished() -> SnapshotState | None:
        snapshot = await client.get_snapshot(token, 123, backup_id, snapshot_id)
        return snapshot.state if snapshot.state.is_terminal else None

    state = await wait_until(finished, timeout=20, what=f"snapshot {snapshot_id} to finish")
    assert state is not None
    return state


async def test_workspaces(client: SkyviaClient, simulator: RunningSimulator) -> None:
    workspaces = await client.list_workspaces(simulator.token)
    assert {w.id: w.name for w in workspaces}.items() >= {
        123: "Operations",
        124: "Finance sandbox",
    }.items()
    assert (await client.get_workspace(simulator.token, 124)).name == "Finance sandbox"


async def test_backups_pages_and_iterator(
    client: SkyviaClient, simulator: RunningSimulator
) -> None:
    first = await client.list_backups(simulator.token, 123, take=3)
    second = await client.list_backups(simulator.token, 123, take=3, skip=3)
    assert first.has_more and len(first.data) == 3
    assert {b.id for b in first.data}.isdisjoint({b.id for b in second.data})

    expected = [b.id for b in simulator.state.backups_by_workspace[123]]
    every = [b.id async for b in client.iter_backups(simulator.token, 123, page_size=3)]
    assert every == expected and len(every) > 3

    backup = await client.get_backup(simulator.token, 123, 456)
    assert backup.display_name == "Nightly CRM" and backup.scheduled is True
    assert backup.created is not None and backup.created.tzinfo is not None


async def test_snapshot_filters_and_pages(
    client: SkyviaClient, simulator: RunningSimulator
) -> None:
    token = simulator.token
    history = (await client.list_snapshots(token, 123, 456, sort_order="desc", take=200)).data
    first = await client.list_snapshots(token, 123, 456, sort_order="desc", take=3)
    rest = await client.list_snapshots(token, 123, 456, sort_order="desc", take=200, skip=3)
    assert first.has_more and not rest.has_more
    assert [*first.data, *rest.data] == history
    assert len(history) >= 6
    starts = [s.start_time for s in history if s.start_time is not None]
    assert len(starts) == len(history)
    assert starts == sorted(starts, reverse=True)
    assert all(s.state.is_terminal for s in history)

    failed = await client.list_snapshots(token, 123, 456, failed=True, take=200)
    assert failed.data and all(s.state == SnapshotState.FAILED for s in failed.data)
    assert {s.snapshot_id for s in failed.data} <= {s.snapshot_id for s in history}

    middle = sorted(starts)[len(starts) // 2]
    since = await client.list_snapshots(token, 123, 456, start_date=middle, take=200)
    since_starts = [s.start_time for s in since.data if s.start_time is not None]
    assert since_starts and all(start >= middle for start in since_starts)
    until = await client.list_snapshots(
        token, 123, 456, end_date=middle - timedelta(milliseconds=1), take=200
    )
    assert len(since.data) + len(until.data) == len(history)

    by_id = await client.list_snapshots(token, 123, 456, sort_by="snapshotId", sort_order="asc")
    ids = [s.snapshot_id for s in by_id.data]
    assert ids == sorted(ids)

    details = await client.get_snapshot(token, 123, 456, failed.data[0].snapshot_id)
    assert details.log and details.log.startswith("Error:")


async def test_snapshot_lifecycle(client: SkyviaClient, simulator: RunningSimulator) -> None:
    token = simulator.token
    assert await client.get_active_snapshot(token, 123, 461) is None

    run = await client.create_snapshot(token, 123, 461)
    assert run.state in (SnapshotState.NEW, SnapshotState.QUEUED)
    active = await client.get_active_snapshot(token, 123, 461)
    assert active is not None and active.run_id == run.run_id

    assert await wait_until_finished(client, token, 461, run.run_id) == SnapshotState.SUCCEEDED
    assert await client.get_active_snapshot(token, 123, 461) is None
    listed = await client.list_snapshots(token, 123, 461)
    assert [s.snapshot_id for s in listed.data] == [run.run_id]
    assert listed.data[0].run_by_schedule is False


async def test_failed_run_carries_its_log(
    client: SkyviaClient, simulator: RunningSimulator
) -> None:
    simulator.state.fail_next(456, "Error: INVALID_SESSION_ID on object Account\nline two")
    run = await client.create_snapshot(simulator.token, 123, 456)
    assert (
        await wait_until_finished(client, simulator.token, 456, run.run_id) == SnapshotState.FAILED
    )
    snapshot = await client.get_snapshot(simulator.token, 123, 456, run.run_id)
    assert snapshot.log == "Error: INVALID_SESSION_ID on object Account\nline two"


async def test_schedule(client: SkyviaClient, simulator: RunningSimulator) -> None:
    token = simulator.token
    assert (await client.get_schedule(token, 123, 456)).active is True
    assert (await client.disable_schedule(token, 123, 456)).active is False
    assert (await client.get_schedule(token, 123, 456)).active is False
    assert (await client.get_backup(token, 123, 456)).scheduled is False
    assert (await client.enable_schedule(token, 123, 456)).active is True
    assert (await client.get_schedule(token, 123, 456)).active is True


async def test_auth_errors(client: SkyviaClient, simulator: RunningSimulator) -> None:
    with pytest.raises(SkyviaAuthError) as caught:
        await client.list_backups("not-a-token", 123)
    assert caught.value.status == 403 and caught.value.workspace_id == 123

    simulator.state.add_token("finance-only", [124])
    assert [w.id for w in await client.list_workspaces("finance-only")] == [124]
    assert (await client.list_backups("finance-only", 124)).data
    with pytest.raises(SkyviaAuthError):
        await client.get_backup("finance-only", 123, 456)
    assert simulator.state.call_counts()["GET /workspaces/{workspaceId}/backups"] == 2


async def test_not_found(client: SkyviaClient, simulator: RunningSimulator) -> None:
    token = simulator.token
    with pytest.raises(SkyviaNotFound) as caught:
        await client.get_backup(token, 123, 999_999)
    assert (caught.value.workspace_id, caught.value.backup_id) == (123, 999_999)
    with pytest.raises(SkyviaNotFound):
        await client.get_backup(token, 124, 456)  # exists, but in another workspace
    with pytest.raises(SkyviaNotFound):
        await client.get_snapshot(token, 123, 456, 1)
    with pytest.raises(SkyviaNotFound):
        await client.get_workspace(token, 999)
    assert simulator.state.call_counts()["GET /workspaces/{workspaceId}/backups/{backupId}"] == 2


async def test_rate_limit_and_5xx_are_retried(
    http: httpx.AsyncClient, simulator: RunningSimulator
) -> None:
    client = SkyviaClient(
        http, simulator.base_url, retry=RetryPolicy(base_delay=0.001, max_retry_after=0.001)
    )
    simulator.state.inject_errors(429, count=1, retry_after=0)
    simulator.state.inject_errors(503, count=1)
    assert (await client.get_schedule(simulator.token, 123, 456)).active is True
    assert simulator.state.call_counts() == {
        "GET /workspaces/{workspaceId}/backups/{backupId}/schedule": 3
    }


async def test_persistent_5xx_gives_up_after_max_attempts(
    client: SkyviaClient, simulator: RunningSimulator
) -> None:
    simulator.state.inject_errors(500)
    with pytest.raises(SkyviaUnavailable) as caught:
        await client.list_workspaces(simulator.token)
    assert caught.value.status == 500
    assert simulator.state.call_counts() == {"GET /workspaces": FAST.max_attempts}


async def test_timed_out_post_does_not_start_a_second_snapshot(
    simulator: RunningSimulator,
) -> None:
    state = simulator.state
    state.set_speed(1)  # the run must still be active when the client looks for it
    state.add_latency(1.0, endpoint=POST_SNAPSHOT, count=1)
    before = len(state.snapshots_of(461))
    async with build_http_client(timeout=0.25) as http:
        client = SkyviaClient(http, simulator.base_url, retry=FAST)
        run = await client.create_snapshot(simulator.token, 123, 461)

    runs = state.snapshots_of(461)
    assert len(runs) == before + 1
    assert run.run_id == runs[-1].id
    assert state.call_counts()[POST_SNAPSHOT] == 1
    assert state.call_counts()[GET_ACTIVE] == 1


async def test_post_lost_after_processing_is_not_repeated(
    client: SkyviaClient, simulator: RunningSimulator
) -> None:
    state = simulator.state
    state.set_speed(1)
    state.inject_errors(502, count=1, endpoint=POST_SNAPSHOT, after_processing=True)
    run = await client.create_snapshot(simulator.token, 123, 461)
    assert [s.id for s in state.snapshots_of(461)] == [run.run_id]
    assert state.call_counts()[POST_SNAPSHOT] == 1


async def test_post_refused_before_processing_is_sent_once_more(
    client: SkyviaClient, simulator: RunningSimulator
) -> None:
    state = simulator.state
    state.inject_errors(500, count=1, endpoint=POST_SNAPSHOT)
    run = await client.create_snapshot(simulator.token, 123, 461)
    assert [s.id for s in state.snapshots_of(461)] == [run.run_id]
    assert state.call_counts()[POST_SNAPSHOT] == 2
    assert state.call_counts()[GET_ACTIVE] == 1


async def test_unreachable_simulator_is_unavailable(http: httpx.AsyncClient) -> None:
    async with build_http_client(timeout=1.0) as short:
        client = SkyviaClient(short, "http://127.0.0.1:9/v1", retry=FAST)
        with pytest.raises(SkyviaUnavailable) as caught:
            await client.list_workspaces("any")
    assert caught.value.status is None
