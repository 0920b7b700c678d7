"""SkyviaClient against `httpx.MockTransport`: requests sent, error mapping and retry rules."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from bot.skyvia.client import RetryPolicy, SkyviaClient, format_datetime
from bot.skyvia.errors import (
    SkyviaAuthError,
    SkyviaBadResponse,
    SkyviaError,
    SkyviaNotFound,
    SkyviaRateLimited,
    SkyviaUnavailable,
)
from bot.skyvia.models import SnapshotState

TOKEN = "tok-SECRET-9f8e7d"
BASE = "https://api.skyvia.test/v1"
RUN = {"runId": 7001, "date": "2023-10-02T14:15:15.307Z", "duration": 0, "state": "Queued"}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler answering from a script, recording every request."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def calls(self, method: str, suffix: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path.endswith(suffix))


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, max_total=5.0)


def make_client(
    recorder: Recorder,
    *,
    retry: RetryPolicy = FAST,
    sleeps: Sleeps | None = None,
    observer: Callable[[str, str, int | None, float], None] | None = None,
    max_concurrency: int = 4,
) -> SkyviaClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return SkyviaClient(
        http,
        BASE,
        retry=retry,
        observer=observer,
        sleep=sleeps or Sleeps(),
        max_concurrency_per_workspace=max_concurrency,
    )


def ok(body: object) -> httpx.Response:
    return httpx.Response(200, json=body)


def error(status: int, message: str = "nope", headers: dict[str, str] | None = None):
    body = {"errorCode": status, "message": message, "errors": {}}
    return httpx.Response(status, json=body, headers=headers)


async def test_sends_raw_token_and_documented_query() -> None:
    recorder = Recorder(ok({"data": [], "hasMore": False}))
    client = make_client(recorder)
    since = datetime(2023, 10, 2, 16, 15, 15, 307000, tzinfo=timezone(timedelta(hours=2)))

    await client.list_snapshots(
        TOKEN,
        123,
        456,
        failed=True,
        start_date=since,
        take=50,
        skip=100,
        sort_order="desc",
        sort_by="startTime",
    )

    request = recorder.requests[0]
    assert request.headers["Authorization"] == TOKEN
    assert request.url.path == "/v1/workspaces/123/backups/456/snapshots"
    params = {
        "take": "50",
        "skip": "100",
        "failed": "true",
        "startDate": "2023-10-02T14:15:15.307Z",
        "sortOrder": "desc",
        "sortBy": "startTime",
    }
    assert dict(request.url.params) == params
    # The client builds the query itself (one parse of the URL): byte for byte what httpx's
    # own `params=` would send.
    expected = httpx.Request("GET", BASE + "/workspaces/123/backups/456/snapshots", params=params)
    assert str(request.url) == str(expected.url)


async def test_create_snapshot_sends_documented_body() -> None:
    recorder = Recorder(ok(RUN))
    run = await make_client(recorder).create_snapshot(TOKEN, 123, 456)
    assert json.loads(recorder.requests[0].content) == {"mode": "full", "params": {}}
    assert run.run_id == 7001 and run.state == SnapshotState.QUEUED


def test_format_datetime_naive_is_utc_with_milliseconds() -> None:
    assert format_datetime(datetime(2023, 1, 2, 3, 4, 5, 6789)) == "2023-01-02T03:04:05.006Z"
    assert format_datetime(datetime(2023, 1, 2, tzinfo=UTC)) == "2023-01-02T00:00:00.000Z"


@pytest.mark.parametrize("take", [0, -1, 201])
async def test_take_out_of_range_is_refused_before_any_call(take: int) -> None:
    recorder = Recorder(ok({"data": []}))
    client = make_client(recorder)
    with pytest.raises(ValueError, match="take"):
        await client.list_backups(TOKEN, 1, take=take)
    with pytest.raises(ValueError, match="take"):
        await client.list_snapshots(TOKEN, 1, 2, take=take)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, SkyviaAuthError),
        (403, SkyviaAuthError),
        (404, SkyviaNotFound),
        (400, SkyviaBadResponse),
        (409, SkyviaBadResponse),
    ],
)
async def test_definite_errors_are_mapped_and_not_retried(
    status: int, error_type: type[SkyviaError]
) -> None:
    recorder = Recorder(error(status, "Backup 456 is not here"))
    client = make_client(recorder)

    with pytest.raises(error_type) as caught:
        await client.get_snapshot(TOKEN, 123, 456, 789)

    assert len(recorder.requests) == 1
    err = caught.value
    assert (err.workspace_id, err.backup_id, err.snapshot_id, err.status) == (123, 456, 789, status)
    assert err.endpoint == "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/{snapshotId}"
    assert "Backup 456 is not here" in str(err)


@pytest.mark.parametrize(
    "failure",
    [error(500), error(502), error(503), httpx.ReadTimeout("slow"), httpx.ConnectError("refused")],
    ids=["500", "502", "503", "timeout", "connect"],
)
async def test_transient_failures_are_retried_until_success(
    failure: httpx.Response | Exception,
) -> None:
    recorder = Recorder(failure, failure, ok({"active": True}))
    schedule = await make_client(recorder).get_schedule(TOKEN, 1, 2)
    assert schedule.active is True
    assert len(recorder.requests) == 3


async def test_attempts_are_bounded() -> None:
    recorder = Recorder(error(503))
    client = make_client(recorder, retry=RetryPolicy(max_attempts=4, base_delay=0.001))
    with pytest.raises(SkyviaUnavailable) as caught:
        await client.list_workspaces(TOKEN)
    assert len(recorder.requests) == 4
    assert caught.value.status == 503


async def test_timeouts_end_as_unavailable_without_status() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(SkyviaUnavailable) as caught:
        await make_client(recorder).get_backup(TOKEN, 1, 2)
    assert caught.value.status is None
    assert "timed out" in str(caught.value)
    assert len(recorder.requests) == FAST.max_attempts


async def test_retry_after_is_honoured() -> None:
    sleeps = Sleeps()
    recorder = Recorder(error(429, headers={"Retry-After": "7"}), ok([{"id": 1}]))
    client = make_client(recorder, sleeps=sleeps, retry=RetryPolicy(base_delay=0.001))

    workspaces = await client.list_workspaces(TOKEN)

    assert [w.id for w in workspaces] == [1]
    assert sleeps.delays == [7.0]


async def test_retry_after_beyond_the_cap_is_raised_to_the_caller() -> None:
    sleeps = Sleeps()
    recorder = Recorder(error(429, headers={"Retry-After": "120"}), ok([]))
    client = make_client(recorder, sleeps=sleeps, retry=RetryPolicy(max_retry_after=30))

    with pytest.raises(SkyviaRateLimited) as caught:
        await client.list_workspaces(TOKEN)

    assert caught.value.retry_after == 120.0
    assert len(recorder.requests) == 1 and sleeps.delays == []


async def test_total_retry_time_is_bounded() -> None:
    recorder = Recorder(error(429, headers={"Retry-After": "3"}))
    policy = RetryPolicy(max_attempts=10, max_total=2.0, max_retry_after=60)
    with pytest.raises(SkyviaRateLimited):
        await make_client(recorder, retry=policy).list_workspaces(TOKEN)
    assert len(recorder.requests) == 1


async def test_backoff_delays_are_jittered_and_capped() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=4.0, max_total=1000)
    with pytest.raises(SkyviaUnavailable):
        await make_client(Recorder(error(500)), sleeps=sleeps, retry=policy).list_workspaces(TOKEN)
    assert len(sleeps.delays) == 5
    assert all(0 <= d <= 4.0 for d in sleeps.delays)


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"data": "not a list"}', b'{"id": "x"}', b"[1, 2]"],
)
async def test_unparsable_2xx_is_bad_response_and_not_retried(body: bytes) -> None:
    recorder = Recorder(httpx.Response(200, content=body))
    client = make_client(recorder)
    with pytest.raises(SkyviaBadResponse) as caught:
        if body.startswith(b'{"id"'):
            await client.get_workspace(TOKEN, 5)
        else:
            await client.list_backups(TOKEN, 5)
    assert len(recorder.requests) == 1
    assert caught.value.workspace_id == 5 and caught.value.status == 200


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(204),
        error(404),
        httpx.Response(200, content=b""),
        httpx.Response(200, content=b"null"),
        httpx.Response(200, json={}),
    ],
    ids=["204", "404", "empty", "null", "empty-object"],
)
async def test_active_none_in_every_documented_form(answer: httpx.Response) -> None:
    recorder = Recorder(answer)
    assert await make_client(recorder).get_active_snapshot(TOKEN, 1, 2) is None
    assert len(recorder.requests) == 1


async def test_active_run_is_parsed() -> None:
    run = await make_client(Recorder(ok({**RUN, "state": "Running"}))).get_active_snapshot(
        TOKEN, 1, 2
    )
    assert run is not None and run.run_id == 7001 and run.state == SnapshotState.RUNNING


async def test_lost_snapshot_post_returns_the_active_run_without_posting_again() -> None:
    recorder = Recorder(
        lambda r: error(503) if r.method == "POST" else ok({**RUN, "runId": 8123}),
    )
    run = await make_client(recorder).create_snapshot(TOKEN, 123, 456)
    assert run.run_id == 8123
    assert recorder.calls("POST", "/snapshots") == 1
    assert recorder.calls("GET", "/snapshots/active") == 1


async def test_lost_snapshot_post_with_nothing_active_posts_once_more() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"), httpx.Response(204), ok(RUN))
    run = await make_client(recorder).create_snapshot(TOKEN, 123, 456)
    assert run.run_id == 7001
    assert [r.method for r in recorder.requests] == ["POST", "GET", "POST"]


async def test_second_lost_snapshot_post_is_final() -> None:
    recorder = Recorder(lambda r: httpx.Response(204) if r.method == "GET" else error(500))
    with pytest.raises(SkyviaUnavailable):
        await make_client(recorder).create_snapshot(TOKEN, 123, 456)
    assert recorder.calls("POST", "/snapshots") == 2


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        (error(429, headers={"Retry-After": "1"}), SkyviaRateLimited),
        (error(404), SkyviaNotFound),
        (error(403), SkyviaAuthError),
    ],
)
async def test_refused_snapshot_post_is_not_retried(
    answer: httpx.Response, error_type: type[SkyviaError]
) -> None:
    recorder = Recorder(answer)
    with pytest.raises(error_type):
        await make_client(recorder).create_snapshot(TOKEN, 123, 456)
    assert len(recorder.requests) == 1


async def test_schedule_toggle_accepts_an_empty_confirmation() -> None:
    recorder = Recorder(httpx.Response(200), error(500), ok({"active": False}))
    client = make_client(recorder)
    assert (await client.enable_schedule(TOKEN, 1, 2)).active is True
    assert (await client.disable_schedule(TOKEN, 1, 2)).active is False
    assert [r.url.path for r in recorder.requests] == [
        "/v1/workspaces/1/backups/2/schedule/enable",
        "/v1/workspaces/1/backups/2/schedule/disable",
        "/v1/workspaces/1/backups/2/schedule/disable",
    ]


async def test_observer_sees_each_attempt() -> None:
    seen: list[tuple[str, str, int | None]] = []
    recorder = Recorder(httpx.ConnectError("down"), error(500), ok({"id": 9}))
    client = make_client(recorder, observer=lambda m, e, s, _t: seen.append((m, e, s)))
    await client.get_workspace(TOKEN, 9)
    endpoint = "GET /workspaces/{workspaceId}"
    assert seen == [("GET", endpoint, None), ("GET", endpoint, 500), ("GET", endpoint, 200)]


async def test_a_failing_observer_does_not_fail_the_call() -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("metrics down")

    client = make_client(Recorder(ok({"id": 9})), observer=broken)
    assert (await client.get_workspace(TOKEN, 9)).id == 9


async def test_paging_iterators_follow_has_more() -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        skip, take = int(request.url.params["skip"]), int(request.url.params["take"])
        ids = list(range(1, 8))[skip : skip + take]
        return ok({"data": [{"id": i} for i in ids], "hasMore": skip + take < 7})

    recorder = Recorder(pages)
    backups = [b.id async for b in make_client(recorder).iter_backups(TOKEN, 1, page_size=3)]
    assert backups == [1, 2, 3, 4, 5, 6, 7]
    assert [r.url.params["skip"] for r in recorder.requests] == ["0", "3", "6"]


async def test_concurrency_is_bounded_per_workspace() -> None:
    gate, saturated = asyncio.Event(), asyncio.Event()
    in_flight: dict[str, int] = {"1": 0, "2": 0}
    peak: dict[str, int] = {"1": 0, "2": 0}

    async def slow(request: httpx.Request) -> httpx.Response:
        workspace = request.url.path.split("/")[3]
        in_flight[workspace] += 1
        peak[workspace] = max(peak[workspace], in_flight[workspace])
        if in_flight == {"1": 2, "2": 2}:
            saturated.set()
        await gate.wait()
        in_flight[workspace] -= 1
        return ok({"id": int(workspace)})

    http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    client = SkyviaClient(http, BASE, max_concurrency_per_workspace=2, retry=FAST)
    tasks = [asyncio.create_task(client.get_workspace(TOKEN, ws)) for ws in [1] * 6 + [2] * 6]

    await asyncio.wait_for(saturated.wait(), timeout=10)
    for _ in range(20):  # let any wrongly admitted request show up
        await asyncio.sleep(0)
    assert peak == {"1": 2, "2": 2}
    gate.set()
    results = await asyncio.gather(*tasks)
    assert sorted(w.id for w in results) == [1] * 6 + [2] * 6


async def test_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoing = error(403, f"Token {TOKEN} expired")
    scripts: list[tuple[Recorder, Callable[[SkyviaClient], Awaitable[object]]]] = [
        (Recorder(echoing), lambda c: c.list_workspaces(TOKEN)),
        (Recorder(error(404, TOKEN)), lambda c: c.get_backup(TOKEN, 1, 2)),
        (Recorder(error(429, TOKEN, {"Retry-After": "0"})), lambda c: c.get_schedule(TOKEN, 1, 2)),
        (Recorder(error(500, TOKEN)), lambda c: c.list_backups(TOKEN, 1)),
        (Recorder(httpx.ReadTimeout(TOKEN)), lambda c: c.create_snapshot(TOKEN, 1, 2)),
        (Recorder(httpx.ConnectError("refused")), lambda c: c.get_workspace(TOKEN, 1)),
        (
            Recorder(httpx.Response(200, content=TOKEN.encode())),
            lambda c: c.get_workspace(TOKEN, 1),
        ),
    ]
    for recorder, call in scripts:
        client = make_client(recorder)
        with pytest.raises(SkyviaError) as caught:
            await call(client)
        err = caught.value
        rendered = "".join(traceback.format_exception(err))
        for text in (str(err), repr(err), rendered, repr(client), repr(vars(err))):
            assert TOKEN not in text
        assert recorder.requests[0].headers["Authorization"] == TOKEN  # it was really sent

    assert caplog.records, "the retries above should have logged"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")
