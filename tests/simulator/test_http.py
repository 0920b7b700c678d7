"""The simulator over raw HTTP: auth rule, status codes, validation, faults and the admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.devtools.waiting import wait_until
from bot.simulator import RunningSimulator, running_simulator
from bot.simulator.admin_client import SimulatorAdmin

POST_SNAPSHOT = "POST /workspaces/{workspaceId}/backups/{backupId}/snapshots"


@pytest.fixture
async def api(simulator: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": simulator.token}
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as http:
        yield http


@pytest.fixture
async def admin(simulator: RunningSimulator) -> AsyncIterator[SimulatorAdmin]:
    async with SimulatorAdmin(simulator.admin_url) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Skyvia's error shape: `{"errorCode": status, "message": "...", "errors": {...}}`."""
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert body["errorCode"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


@pytest.mark.parametrize("headers", [{}, {"Authorization": "wrong"}, {"Authorization": ""}])
async def test_unauthenticated_calls_get_403(
    simulator: RunningSimulator, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as http:
        for path in ("/workspaces", "/workspaces/123/backups/456", "/workspaces/999"):
            assert_error(await http.get(path), 403)
        assert_error(await http.post("/workspaces/123/backups/456/snapshots", json={}), 403)
    assert simulator.state.snapshots_of(456)[-1].id < 7001  # nothing was started


async def test_bearer_prefix_is_not_the_skyvia_scheme(simulator: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        response = await http.get(
            "/workspaces", headers={"Authorization": "Bearer " + simulator.token}
        )
    assert_error(response, 403)


async def test_scoped_token(simulator: RunningSimulator, admin: SimulatorAdmin) -> None:
    await admin.add_token("ops-only", [123])
    async with httpx.AsyncClient(base_url=simulator.base_url) as http:
        headers = {"Authorization": "ops-only"}
        listed = await http.get("/workspaces", headers=headers)
        assert [w["id"] for w in listed.json()] == [123]
        assert (await http.get("/workspaces/123/backups", headers=headers)).status_code == 200
        assert_error(await http.get("/workspaces/124/backups", headers=headers), 403)


@pytest.mark.parametrize(
    "path",
    [
        "/workspaces/999",
        "/workspaces/999/backups",
        "/workspaces/123/backups/999999",
        "/workspaces/124/backups/456",
        "/workspaces/123/backups/456/snapshots/1",
        "/workspaces/123/backups/457/snapshots/5001",
        "/workspaces/123/backups/456/schedule/nope",
        "/workspaces/abc",
    ],
)
async def test_unknown_ids_get_404(api: httpx.AsyncClient, path: str) -> None:
    assert_error(await api.get(path), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("take=0", "take"),
        ("take=201", "take"),
        ("take=x", "take"),
        ("skip=-1", "skip"),
        ("failed=maybe", "failed"),
        ("startDate=yesterday", "startDate"),
        ("sortOrder=up", "sortOrder"),
        ("sortBy=name", "sortBy"),
    ],
)
async def test_bad_list_parameters_get_400(api: httpx.AsyncClient, query: str, field: str) -> None:
    body = assert_error(await api.get(f"/workspaces/123/backups/456/snapshots?{query}"), 400)
    assert field in body["errors"]


async def test_backup_take_bounds(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/workspaces/123/backups?take=201"), 400)
    page = (await api.get("/workspaces/123/backups?take=200")).json()
    assert page["hasMore"] is False and len(page["data"]) >= 8


async def test_active_is_204_when_nothing_runs(api: httpx.AsyncClient) -> None:
    response = await api.get("/workspaces/123/backups/461/snapshots/active")
    assert response.status_code == 204 and response.content == b""


async def test_bad_post_body_gets_400(api: httpx.AsyncClient, simulator: RunningSimulator) -> None:
    url = "/workspaces/123/backups/461/snapshots"
    assert_error(await api.post(url, content=b"{not json"), 400)
    assert_error(await api.post(url, json={"mode": 5}), 400)
    assert simulator.state.snapshots_of(461) == []


async def test_runs_progress_on_the_real_clock(api: httpx.AsyncClient) -> None:
    run = (await api.post("/workspaces/123/backups/461/snapshots", json={"mode": "full"})).json()
    seen: list[str] = []

    async def done() -> bool:
        details = await api.get(f"/workspaces/123/backups/461/snapshots/{run['runId']}")
        seen.append(details.json()["state"])
        return seen[-1] in ("Succeeded", "Failed")

    await wait_until(done, timeout=20, interval=0.02, what="the run to finish")
    order = ["New", "Queued", "Running", "Succeeded"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    assert seen[-1] == "Succeeded"


async def test_injected_errors_and_call_counts(
    api: httpx.AsyncClient, admin: SimulatorAdmin
) -> None:
    await admin.inject_errors(429, count=1, retry_after=3)
    limited = await api.get("/workspaces")
    assert_error(limited, 429)
    assert limited.headers["Retry-After"] == "3"
    assert (await api.get("/workspaces")).status_code == 200

    await admin.inject_errors(500, rate=1.0, endpoint="GET /workspaces/{workspaceId}")
    assert_error(await api.get("/workspaces/123"), 500)
    assert (await api.get("/workspaces")).status_code == 200
    await admin.clear_faults()
    assert (await api.get("/workspaces/123")).status_code == 200

    assert await admin.call_counts() == {"GET /workspaces": 3, "GET /workspaces/{workspaceId}": 2}
    await admin.reset_call_counts()
    assert await admin.call_counts() == {}


async def test_calls_under_a_backup_are_counted_per_backup(
    api: httpx.AsyncClient, simulator: RunningSimulator
) -> None:
    """A benchmark tells a backup with a run going from an idle one by its own calls."""
    active = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/active"
    for backup in (456, 456, 457):
        await api.get(f"/workspaces/123/backups/{backup}/snapshots/active")
    await api.get("/workspaces/123")
    state = simulator.state
    assert state.backup_call_counts(active) == {456: 2, 457: 1}
    assert state.backup_call_counts("GET /workspaces/{workspaceId}") == {}
    state.reset_call_counts()
    assert state.backup_call_counts(active) == {}


async def test_error_after_processing_still_starts_the_run(
    api: httpx.AsyncClient, admin: SimulatorAdmin
) -> None:
    await admin.inject_errors(500, count=1, endpoint=POST_SNAPSHOT, after_processing=True)
    assert_error(await api.post("/workspaces/123/backups/461/snapshots", json={}), 500)
    assert len(await admin.snapshots_of(461)) == 1


async def test_latency_delays_only_its_endpoint(
    api: httpx.AsyncClient, admin: SimulatorAdmin
) -> None:
    await admin.add_latency(5.0, endpoint="GET /workspaces/{workspaceId}", count=1)
    assert (await api.get("/workspaces")).status_code == 200  # not delayed
    with pytest.raises(httpx.ReadTimeout):
        await api.get("/workspaces/123", timeout=0.2)
    assert (await api.get("/workspaces/123", timeout=5)).status_code == 200  # count used up


async def test_admin_controls(
    api: httpx.AsyncClient, admin: SimulatorAdmin, simulator: RunningSimulator
) -> None:
    await admin.set_speed(1)
    await admin.fail_next(456, "Error: from admin\nline 2")
    run = (await api.post("/workspaces/123/backups/456/snapshots", json={})).json()
    finished = await admin.finish_snapshot(run["runId"], "Failed")
    assert finished["state"] == "Failed"
    assert finished["result"] == "Error: from admin\nline 2"  # fail-next log kept

    scheduled = await admin.run_scheduled_now(457, fail=True)
    assert scheduled["runBySchedule"] is True and scheduled["backupId"] == 457
    assert await admin.finish_all_running("Canceled") == 1
    snapshots = await admin.snapshots_of(457)
    assert snapshots[-1]["state"] == "Canceled"

    [workspace_id] = await admin.add_data(
        {"workspaces": [{"name": "Added", "backups": [{"name": "New one", "scheduled": True}]}]}
    )
    bulk = await admin.add_bulk(3, 40, history=1)
    summary = await admin.summary()
    assert summary["workspaces"] == 3 + 1 + 3 and summary["backups"] == 13 + 1 + 120
    listed = (await api.get(f"/workspaces/{bulk[0]}/backups?take=200")).json()["data"]
    assert len(listed) == 40
    assert (await api.get(f"/workspaces/{workspace_id}")).json()["name"] == "Added"

    before = (await admin.summary())["now"]
    await admin.advance(3600)
    assert (await admin.summary())["now"] > before
    await admin.set_schedule_interval(None)
    assert (await admin.summary())["scheduleInterval"] is None

    await admin.reset()
    assert (await admin.summary())["backups"] == 13
    assert len(simulator.state.workspaces) == 3


async def test_admin_refusals(admin: SimulatorAdmin) -> None:
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        await admin.fail_next(424242)
    assert unknown.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as bad:
        await admin.set_speed(-1)
    assert bad.value.response.status_code == 400
    assert "speed" in bad.value.response.json()["errors"]
    with pytest.raises(httpx.HTTPStatusError) as bad_state:
        await admin.finish_all_running("Running")
    assert bad_state.value.response.status_code == 400


async def test_two_simulators_are_independent() -> None:
    async with running_simulator(tokens=["a"]) as one, running_simulator(tokens=["b"]) as two:
        assert one.port != two.port
        one.state.add_bulk(1, 1)
        assert len(two.state.workspaces) == 3
        async with httpx.AsyncClient() as http:
            ok = await http.get(one.base_url + "/workspaces", headers={"Authorization": "a"})
            refused = await http.get(two.base_url + "/workspaces", headers={"Authorization": "a"})
        assert len(ok.json()) == 4 and refused.status_code == 403


async def test_finished_snapshots_report_rows_when_the_state_says_so(
    api: httpx.AsyncClient, admin: SimulatorAdmin, simulator: RunningSimulator
) -> None:
    """Skyvia's published excerpt has no row counts (the contract test holds the default to it);
    the console turns them on so a card reads "took 1s · 1,000 rows" as README shows."""
    run = (await api.post("/workspaces/123/backups/456/snapshots", json={})).json()
    await admin.finish_snapshot(run["runId"], "Succeeded")
    path = f"/workspaces/123/backups/456/snapshots/{run['runId']}"
    assert "successRows" not in (await api.get(path)).json()

    simulator.state.report_rows = True
    details = (await api.get(path)).json()
    assert details["successRows"] > 0 and details["errorRows"] == 0
    listed = (await api.get("/workspaces/123/backups/456/snapshots?take=1&sortOrder=desc")).json()[
        "data"
    ][0]
    assert (listed["snapshotId"], listed["successRows"]) == (run["runId"], details["successRows"])
    running = (await api.post("/workspaces/123/backups/457/snapshots", json={})).json()
    unfinished = (await api.get(f"/workspaces/123/backups/457/snapshots/{running['runId']}")).json()
    assert "successRows" not in unfinished  # rows are known once the run has ended
