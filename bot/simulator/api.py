"""The simulated Skyvia API: the ten `/v1` endpoints, with Skyvia's shapes, codes and auth rule.

Every call, in order: counted under its `METHOD template` name; answered with an injected error
if one is due before processing; authorized (an unknown or missing token, or one that does not
cover the workspace, gets 403 like Skyvia's unauthenticated answer); handled; its answer
replaced by an injected error if one is due after processing; delayed by injected latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulator.faults import ErrorRule
from bot.simulator.records import SimSnapshot, iso
from bot.simulator.state import SimulatorState, UnknownId

MAX_TAKE = 200

Handler = Callable[[SimulatorState, Request], Awaitable[Response]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def error_response(
    status: int, message: str, errors: dict[str, list[str]] | None = None
) -> JSONResponse:
    """Skyvia's error body: `{"errorCode": 403, "message": "...", "errors": {}, ...}`."""
    body = {
        "errorCode": status,
        "message": message,
        "errors": errors or {},
        "traceId": uuid.uuid4().hex,
    }
    return JSONResponse(body, status_code=status)


def _injected(rule: ErrorRule) -> JSONResponse:
    messages = {429: "Too many requests. Try again later.", 500: "Internal server error."}
    response = error_response(rule.status, messages.get(rule.status, "Simulated failure."))
    if rule.retry_after is not None:
        response.headers["Retry-After"] = str(max(0, round(rule.retry_after)))
    return response


def _route(
    state: SimulatorState, stopping: asyncio.Event, method: str, template: str, handler: Handler
) -> Route:
    endpoint_name = f"{method} {template}"
    path = "/v1" + template
    for name in ("workspaceId", "backupId", "snapshotId"):
        path = path.replace("{" + name + "}", "{" + name + ":int}")

    async def endpoint(request: Request) -> Response:
        state.record_call(endpoint_name, request.path_params.get("backupId"))
        plan = state.faults.plan(endpoint_name)
        if plan.error_before is not None:
            response: Response = _injected(plan.error_before)
        else:
            try:
                _authorize(state, request)
                response = await handler(state, request)
            except ApiError as exc:
                response = error_response(exc.status, exc.message, exc.errors)
            except UnknownId as exc:
                response = error_response(404, f"The {exc.kind} with id {exc.id} was not found.")
            if plan.error_after is not None:
                response = _injected(plan.error_after)
        if plan.latency:
            # Cut short when the server stops, so a test's teardown does not wait out the delay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), plan.latency)
        return response

    return Route(path, endpoint, methods=[method], name=endpoint_name)


def _authorize(state: SimulatorState, request: Request) -> None:
    token = request.headers.get("authorization")
    if not state.token_allows(token, None):
        raise ApiError(403, "Access denied. The access token is missing, invalid or expired.")
    workspace_id = request.path_params.get("workspaceId")
    if workspace_id is not None and not state.token_allows(token, workspace_id):
        raise ApiError(
            403, f"Access denied. The access token does not cover workspace {workspace_id}."
        )


def _ids(request: Request) -> tuple[int, int]:
    return request.path_params["workspaceId"], request.path_params["backupId"]


# Query parsing: a bad value is a 400 naming the parameter, as a validating API would answer.


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, "Validation failed.", {name: [f"'{raw}' is not a valid integer."]}
        ) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, "Validation failed.", {name: [f"{name} must be {bounds}."]})
    return value


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ApiError(400, "Validation failed.", {name: [f"'{raw}' is not a valid boolean."]})


def _date_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "Validation failed.", {name: [f"'{raw}' is not a valid date."]}
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


_DATE_KEYS = frozenset({"queueTime", "startTime", "endTime", "date", "created", "modified"})


def _sim_date(state: SimulatorState, value: datetime | None) -> datetime | None:
    """A date the client sent, on the simulated clock."""
    if value is None or not state.real_time_dates:
        return value
    return state.clock.from_real(value)


def _real_dates(state: SimulatorState, value: Any) -> Any:
    """`value` with every date field (and a run's `duration`) on the wall clock."""
    if isinstance(value, list):
        return [_real_dates(state, item) for item in value]
    if not isinstance(value, dict):
        return value
    shown: dict[str, Any] = {}
    for key, item in value.items():
        if key in _DATE_KEYS and isinstance(item, str):
            item = iso(state.clock.to_real(datetime.fromisoformat(item)))
        elif key == "duration" and isinstance(item, int):
            item = int(item / state.clock.speed)
        shown[key] = _real_dates(state, item)
    return shown


def _dated(state: SimulatorState, body: Any) -> JSONResponse:
    """A DTO with dates: on the simulated clock, or the wall clock when the state says so."""
    return JSONResponse(_real_dates(state, body) if state.real_time_dates else body)


def _rows(state: SimulatorState, snapshot: SimSnapshot, dto: dict[str, Any]) -> dict[str, Any]:
    """`dto` with the run's row counts when the state reports them (the console's)."""
    return {**dto, **snapshot.rows_dto(state.now())} if state.report_rows else dto


def _choice_param(request: Request, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ApiError(
        400, "Validation failed.", {name: [f"{name} must be one of {', '.join(choices)}."]}
    )


# Handlers


async def list_workspaces(state: SimulatorState, request: Request) -> Response:
    token = request.headers["authorization"]
    return JSONResponse([w.dto() for w in state.visible_workspaces(token)])


async def get_workspace(state: SimulatorState, request: Request) -> Response:
    return JSONResponse(state.workspace(request.path_params["workspaceId"]).dto())


async def list_backups(state: SimulatorState, request: Request) -> Response:
    workspace_id = request.path_params["workspaceId"]
    state.workspace(workspace_id)
    backups = state.backups_by_workspace.get(workspace_id, [])
    take = _int_param(request, "take", 20, 1, MAX_TAKE)
    skip = _int_param(request, "skip", 0, 0, None)
    window = backups[skip : skip + take]
    return _dated(state, {"data": [b.dto() for b in window], "hasMore": skip + take < len(backups)})


async def get_backup(state: SimulatorState, request: Request) -> Response:
    return _dated(state, state.backup(*_ids(request)).dto())


async def list_snapshots(state: SimulatorState, request: Request) -> Response:
    backup = state.backup(*_ids(request))
    take = _int_param(request, "take", 20, 1, MAX_TAKE)
    skip = _int_param(request, "skip", 0, 0, None)
    found = state.finished_snapshots(
        backup,
        failed=_bool_param(request, "failed"),
        start_date=_sim_date(state, _date_param(request, "startDate")),
        end_date=_sim_date(state, _date_param(request, "endDate")),
        sort_by=_choice_param(request, "sortBy", "startTime", ("startTime", "snapshotId")),
        descending=_choice_param(request, "sortOrder", "asc", ("asc", "desc")) == "desc",
    )
    now = state.now()
    window = found[skip : skip + take]
    return _dated(
        state,
        {
            "data": [_rows(state, s, s.list_dto(now)) for s in window],
            "hasMore": skip + take < len(found),
        },
    )


async def create_snapshot(state: SimulatorState, request: Request) -> Response:
    workspace_id, backup_id = _ids(request)
    backup = state.backup(workspace_id, backup_id)
    raw = await request.body()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("mode", "full"), str):
            raise ApiError(400, "Validation failed.", {"mode": ["mode must be a string."]})
    snapshot = state.start_snapshot(backup.id)
    return _dated(state, snapshot.active_dto(state.now()))


async def get_snapshot(state: SimulatorState, request: Request) -> Response:
    workspace_id, backup_id = _ids(request)
    state.backup(workspace_id, backup_id)
    snapshot = state.snapshot(request.path_params["snapshotId"], backup_id)
    return _dated(state, _rows(state, snapshot, snapshot.details_dto(state.now())))


async def get_active_snapshot(state: SimulatorState, request: Request) -> Response:
    """The newest unfinished run; **204 No Content** when none runs (one of Skyvia's answers)."""
    backup = state.backup(*_ids(request))
    now = state.now()
    active = backup.active(now)
    if active is None:
        return Response(status_code=204)
    return _dated(state, active.active_dto(now))


async def get_schedule(state: SimulatorState, request: Request) -> Response:
    return JSONResponse({"active": state.backup(*_ids(request)).scheduled})


async def enable_schedule(state: SimulatorState, request: Request) -> Response:
    return JSONResponse({"active": state.set_schedule(*_ids(request), active=True).scheduled})


async def disable_schedule(state: SimulatorState, request: Request) -> Response:
    return JSONResponse({"active": state.set_schedule(*_ids(request), active=False).scheduled})


_BACKUP = "/workspaces/{workspaceId}/backups/{backupId}"
ENDPOINTS: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/workspaces", list_workspaces),
    ("GET", "/workspaces/{workspaceId}", get_workspace),
    ("GET", "/workspaces/{workspaceId}/backups", list_backups),
    ("GET", _BACKUP, get_backup),
    ("GET", _BACKUP + "/snapshots", list_snapshots),
    ("POST", _BACKUP + "/snapshots", create_snapshot),
    ("GET", _BACKUP + "/snapshots/active", get_active_snapshot),
    ("GET", _BACKUP + "/snapshots/{snapshotId}", get_snapshot),
    ("GET", _BACKUP + "/schedule", get_schedule),
    ("POST", _BACKUP + "/schedule/enable", enable_schedule),
    ("POST", _BACKUP + "/schedule/disable", disable_schedule),
)
"""(method, template, handler) for each operation: ten paths, eleven operations."""


def api_routes(state: SimulatorState, stopping: asyncio.Event) -> list[Route]:
    """The `/v1` routes; `stopping` is set when the server shuts down."""
    return [_route(state, stopping, m, template, handler) for m, template, handler in ENDPOINTS]
