"""The admin API under `/_sim/`: the state object's controls, over HTTP.

For tests and benchmarks that run the simulator in another process (see `admin_client.py`).
It takes no token — the simulator serves loopback by default and holds no real data. Bodies are
JSON; an unknown id answers 404 and a bad value 400, with Skyvia's error body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulator.api import error_response
from bot.simulator.records import SimSnapshot
from bot.simulator.seed import Seed
from bot.simulator.state import SimulatorState, UnknownId

B = TypeVar("B", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FailNext(_Body):
    log: str | None = None
    count: int = Field(default=1, ge=1, le=1000)


class Finish(_Body):
    state: str = "Succeeded"
    log: str | None = None


class RunScheduled(_Body):
    fail: bool = False
    log: str | None = None


class Latency(_Body):
    seconds: float = Field(ge=0, le=600)
    endpoint: str | None = None
    count: int | None = Field(default=None, ge=1)


class Faults(_Body):
    status: int = Field(ge=400, le=599)
    rate: float | None = Field(default=None, ge=0, le=1)
    count: int | None = Field(default=None, ge=1)
    endpoint: str | None = None
    retry_after: float | None = Field(default=None, alias="retryAfter", ge=0)
    after_processing: bool = Field(default=False, alias="afterProcessing")


class Bulk(_Body):
    workspaces: int = Field(ge=0, le=100_000)
    backups_per_workspace: int = Field(alias="backupsPerWorkspace", ge=0, le=100_000)
    scheduled_every: int = Field(default=2, alias="scheduledEvery", ge=0)
    history: int = Field(default=0, ge=0, le=1000)


class Token(_Body):
    token: str = Field(min_length=1)
    workspaces: list[int] | None = None


class Speed(_Body):
    speed: float = Field(gt=0)


class Advance(_Body):
    seconds: float = Field(ge=0)


class ScheduleInterval(_Body):
    seconds: float | None = Field(gt=0)


AdminHandler = Callable[[SimulatorState, Request], Awaitable[Any]]


def _snapshot_json(state: SimulatorState, snapshot: SimSnapshot) -> dict[str, Any]:
    return {
        **snapshot.details_dto(state.now()),
        "backupId": snapshot.backup_id,
        "successRows": snapshot.success_rows,
        "errorRows": snapshot.error_rows,
    }


async def _body(request: Request, model: type[B]) -> B:
    raw = await request.body()
    return model.model_validate_json(raw or b"{}")


async def state_summary(state: SimulatorState, request: Request) -> Any:
    return state.summary()


async def reset(state: SimulatorState, request: Request) -> Any:
    state.reset()
    return state.summary()


async def fail_next(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, FailNext)
    state.fail_next(request.path_params["backupId"], body.log, count=body.count)
    return {"ok": True}


async def run_scheduled(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, RunScheduled)
    snapshot = state.run_scheduled_now(
        request.path_params["backupId"], fail=body.fail, log=body.log
    )
    return _snapshot_json(state, snapshot)


async def backup_snapshots(state: SimulatorState, request: Request) -> Any:
    snapshots = state.snapshots_of(request.path_params["backupId"])
    return {"data": [_snapshot_json(state, s) for s in snapshots]}


async def finish_snapshot(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, Finish)
    snapshot = state.finish_snapshot(request.path_params["snapshotId"], body.state, body.log)
    return _snapshot_json(state, snapshot)


async def finish_all(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, Finish)
    return {"finished": state.finish_all_running(body.state)}


async def add_latency(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, Latency)
    state.add_latency(body.seconds, endpoint=body.endpoint, count=body.count)
    return {"ok": True}


async def add_faults(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, Faults)
    state.inject_errors(
        body.status,
        rate=body.rate,
        count=body.count,
        endpoint=body.endpoint,
        retry_after=body.retry_after,
        after_processing=body.after_processing,
    )
    return {"ok": True}


async def clear_faults(state: SimulatorState, request: Request) -> Any:
    state.clear_faults()
    return {"ok": True}


async def add_data(state: SimulatorState, request: Request) -> Any:
    raw = await request.body()
    return {"workspaceIds": state.add_data(Seed.model_validate_json(raw or b"{}"))}


async def add_bulk(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, Bulk)
    ids = state.add_bulk(
        body.workspaces,
        body.backups_per_workspace,
        scheduled_every=body.scheduled_every,
        history=body.history,
    )
    return {"workspaceIds": ids, "backups": len(state.backups)}


async def add_token(state: SimulatorState, request: Request) -> Any:
    body = await _body(request, Token)
    state.add_token(body.token, body.workspaces)
    return {"ok": True}


async def set_speed(state: SimulatorState, request: Request) -> Any:
    state.set_speed((await _body(request, Speed)).speed)
    return state.summary()


async def advance(state: SimulatorState, request: Request) -> Any:
    state.advance((await _body(request, Advance)).seconds)
    return state.summary()


async def schedule_interval(state: SimulatorState, request: Request) -> Any:
    state.set_schedule_interval((await _body(request, ScheduleInterval)).seconds)
    return state.summary()


async def calls(state: SimulatorState, request: Request) -> Any:
    return {"calls": state.call_counts()}


async def reset_calls(state: SimulatorState, request: Request) -> Any:
    state.reset_call_counts()
    return {"ok": True}


ADMIN_ENDPOINTS: tuple[tuple[str, str, AdminHandler], ...] = (
    ("GET", "/state", state_summary),
    ("POST", "/reset", reset),
    ("POST", "/backups/{backupId:int}/fail-next", fail_next),
    ("POST", "/backups/{backupId:int}/run-scheduled", run_scheduled),
    ("GET", "/backups/{backupId:int}/snapshots", backup_snapshots),
    ("POST", "/snapshots/{snapshotId:int}/finish", finish_snapshot),
    ("POST", "/finish-all", finish_all),
    ("POST", "/latency", add_latency),
    ("POST", "/faults", add_faults),
    ("DELETE", "/faults", clear_faults),
    ("POST", "/data", add_data),
    ("POST", "/bulk", add_bulk),
    ("POST", "/tokens", add_token),
    ("POST", "/speed", set_speed),
    ("POST", "/advance", advance),
    ("POST", "/schedule-interval", schedule_interval),
    ("GET", "/calls", calls),
    ("DELETE", "/calls", reset_calls),
)


def _admin_route(state: SimulatorState, method: str, path: str, handler: AdminHandler) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(state, request))
        except UnknownId as exc:
            return error_response(404, f"The {exc.kind} with id {exc.id} was not found.")
        except ValidationError as exc:
            errors: dict[str, list[str]] = {}
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "body"
                errors.setdefault(field, []).append(error["msg"])
            return error_response(400, "Validation failed.", errors)
        except ValueError as exc:
            return error_response(400, str(exc))

    return Route("/_sim" + path, endpoint, methods=[method])


def admin_routes(state: SimulatorState) -> list[Route]:
    return [_admin_route(state, m, p, h) for m, p, h in ADMIN_ENDPOINTS]
