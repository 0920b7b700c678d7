"""The simulator and the client hold to Skyvia's OpenAPI excerpt.

Every exchange the client has with the simulator is recorded by an httpx event hook; each path
and method must be an operation of the spec, and each 200 body must validate against that
operation's schema (OpenAPI 3.0: `nullable`, `additionalProperties: false`, int32, date-time).
Errors, which the excerpt leaves out, must have Skyvia's documented error shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from bot.simulator import RunningSimulator
from bot.simulator.api import ENDPOINTS
from bot.skyvia.client import RetryPolicy, SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound, SkyviaRateLimited

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "vendor" / "skyvia-openapi-backups.json"
"""Skyvia's published OpenAPI excerpt of the Backups endpoints (source: docs/vendor/README.md)."""
METHODS = ("get", "post", "put", "patch", "delete")
ERROR_SCHEMA = {
    "type": "object",
    "required": ["errorCode", "message", "errors"],
    "properties": {
        "errorCode": {"type": "integer"},
        "message": {"type": "string", "minLength": 1},
        "errors": {"type": "object"},
    },
}


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return loaded


def spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}


def match_operation(spec: dict[str, Any], method: str, path: str) -> str | None:
    """The spec path template for a concrete path; literal segments beat parameters."""
    candidates = []
    for template, item in spec["paths"].items():
        if method.lower() not in item:
            continue
        pattern = re.sub(r"\{[^}]+\}", r"[^/]+", template)
        if re.fullmatch(pattern, path):
            candidates.append((template.count("{"), template))
    return min(candidates)[1] if candidates else None


def validator(spec: dict[str, Any], method: str, template: str, status: int) -> OAS30Validator:
    response = spec["paths"][template][method.lower()]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    rooted = {**schema, "components": spec["components"]}
    return OAS30Validator(rooted, format_checker=oas30_format_checker)


@pytest.fixture
async def recorded(
    simulator: RunningSimulator,
) -> AsyncIterator[tuple[SkyviaClient, httpx.AsyncClient, list[Exchange]]]:
    exchanges: list[Exchange] = []

    async def record(response: httpx.Response) -> None:
        body = await response.aread()
        exchanges.append(
            Exchange(
                response.request.method,
                response.request.url.path,
                response.status_code,
                response.headers.get("content-type", ""),
                body,
            )
        )

    async with httpx.AsyncClient(timeout=5.0, event_hooks={"response": [record]}) as http:
        retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_retry_after=0.001)
        yield SkyviaClient(http, simulator.base_url, retry=retry), http, exchanges


def test_simulator_serves_exactly_the_spec_operations(spec: dict[str, Any]) -> None:
    served = {(method, "/v1" + template) for method, template, _ in ENDPOINTS}
    assert served == spec_operations(spec)


async def test_every_exchange_matches_the_spec(
    spec: dict[str, Any],
    simulator: RunningSimulator,
    recorded: tuple[SkyviaClient, httpx.AsyncClient, list[Exchange]],
) -> None:
    client, http, exchanges = recorded
    state, token = simulator.state, simulator.token
    state.set_speed(1)  # keep a run active while it is looked at
    state.add_backup(123, None, history=2)  # a nameless backup: `name` is nullable

    await client.list_workspaces(token)
    await client.get_workspace(token, 125)
    await client.list_backups(token, 123, take=4)
    assert [b async for b in client.iter_backups(token, 123, page_size=4)]
    await client.get_backup(token, 123, 456)
    await client.list_snapshots(token, 123, 456, take=3, skip=3)
    history = (await client.list_snapshots(token, 123, 456)).data
    await client.list_snapshots(
        token, 123, 456, failed=True, start_date=history[1].start_time, sort_order="desc"
    )
    await client.list_snapshots(token, 123, 456, sort_by="snapshotId", take=200)
    await client.get_snapshot(token, 123, 456, history[0].snapshot_id)
    assert await client.get_active_snapshot(token, 123, 456) is None
    run = await client.create_snapshot(token, 123, 456)
    assert await client.get_active_snapshot(token, 123, 456) is not None
    await client.get_snapshot(token, 123, 456, run.run_id)  # running: nulls
    state.finish_snapshot(run.run_id, "Failed")
    await client.get_snapshot(token, 123, 456, run.run_id)
    await client.get_schedule(token, 123, 456)
    await client.disable_schedule(token, 123, 456)
    await client.enable_schedule(token, 123, 456)

    with pytest.raises(SkyviaAuthError):
        await client.list_backups("bad-token", 123)
    with pytest.raises(SkyviaNotFound):
        await client.get_snapshot(token, 123, 456, 42)
    state.inject_errors(429, retry_after=0)
    with pytest.raises(SkyviaRateLimited):
        await client.get_workspace(token, 123)
    state.clear_faults()
    await http.get(
        f"{simulator.base_url}/workspaces/123/backups?take=0", headers={"Authorization": token}
    )

    checked_ok: set[tuple[str, str]] = set()
    statuses = set()
    for exchange in exchanges:
        template = match_operation(spec, exchange.method, exchange.path)
        assert template is not None, f"{exchange.method} {exchange.path} is not in the spec"
        statuses.add(exchange.status)
        if exchange.status == 200:
            assert exchange.content_type.startswith("application/json")
            validator(spec, exchange.method, template, 200).validate(exchange.json())
            checked_ok.add((exchange.method, template))
        elif exchange.status == 204:
            assert template.endswith("/snapshots/active") and exchange.body == b""
        else:
            body = exchange.json()
            OAS30Validator(ERROR_SCHEMA).validate(body)
            assert body["errorCode"] == exchange.status

    assert checked_ok == spec_operations(spec)
    assert {200, 204, 400, 403, 404, 429} <= statuses


async def test_list_pages_at_the_edges_match_the_spec(
    spec: dict[str, Any], simulator: RunningSimulator
) -> None:
    template = "/v1/workspaces/{workspaceId}/backups/{backupId}/snapshots"
    check = validator(spec, "GET", template, 200)
    headers = {"Authorization": simulator.token}
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as http:
        for query in ("take=200", "take=1&skip=3", "skip=10000", "failed=true&sortOrder=desc"):
            response = await http.get(f"/workspaces/123/backups/456/snapshots?{query}")
            assert response.status_code == 200, query
            check.validate(response.json())
        empty = (await http.get("/workspaces/123/backups/456/snapshots?skip=10000")).json()
        assert empty == {"data": [], "hasMore": False}
