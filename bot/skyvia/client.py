"""Async client of the Skyvia Backups API.

One instance serves every channel: the token is an argument of each call (channels bind different
workspaces with different tokens), the `httpx.AsyncClient` is injected and shared, and the client
itself holds no secret, so it can be logged or repr'd freely.

Failures surface as the typed errors of `bot.skyvia.errors`. Reads and the schedule toggles are
idempotent and are retried on timeouts, 429 and 5xx; starting a snapshot is not (see
`SkyviaClient.create_snapshot`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlencode

import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import TypeAdapter

from bot.logging_setup import remember_secret
from bot.skyvia.calls import Call, interpret
from bot.skyvia.errors import SkyviaUnavailable
from bot.skyvia.models import ActiveRun, Backup, Page, Schedule, Snapshot, Workspace
from bot.skyvia.retries import RetryPolicy, retry_calls

logger = logging.getLogger(__name__)

Observer = Callable[[str, str, int | None, float], None]
SortOrder = Literal["asc", "desc"]
SortBy = Literal["startTime", "snapshotId"]
M = TypeVar("M")

MAX_TAKE = 200
_WORKSPACES = "/workspaces"
_WORKSPACE = "/workspaces/{workspaceId}"
_BACKUPS = "/workspaces/{workspaceId}/backups"
_BACKUP = "/workspaces/{workspaceId}/backups/{backupId}"
_SNAPSHOTS = _BACKUP + "/snapshots"
_SNAPSHOT = _SNAPSHOTS + "/{snapshotId}"
_ACTIVE = _SNAPSHOTS + "/active"
_SCHEDULE = _BACKUP + "/schedule"
_SCHEDULE_ENABLE = _SCHEDULE + "/enable"
_SCHEDULE_DISABLE = _SCHEDULE + "/disable"

_WORKSPACE_LIST = TypeAdapter(list[Workspace])


def build_http_client(
    timeout: float = 10.0,
    *,
    connect_timeout: float = 5.0,
    max_connections: int = 50,
    max_keepalive: int = 10,
) -> httpx.AsyncClient:
    """A shared `httpx.AsyncClient` fit for Skyvia: bounded pool, short connect, bounded read.

    The caller owns it (`await client.aclose()` at shutdown); one per process is enough. Requests
    go through aiohttp (`httpx_aiohttp.AiohttpTransport`): the watcher makes one request per
    watched snapshot and httpx's own pool cost several times aiohttp's CPU per request in the
    benchmark; httpx stays the interface (errors, MockTransport in unit tests).
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits),
        timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
        limits=limits,
        headers={"Accept": "application/json", "User-Agent": "skyvia-slack-bot"},
        follow_redirects=False,
    )


def format_datetime(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and `Z`, as Skyvia writes dates; naive means UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _check_take(take: int) -> None:
    if not 1 <= take <= MAX_TAKE:
        raise ValueError(f"take must be between 1 and {MAX_TAKE}, got {take}")


def _check_skip(skip: int) -> None:
    if skip < 0:
        raise ValueError(f"skip must not be negative, got {skip}")


class SkyviaClient:
    """Typed calls of the ten Skyvia endpoints the bot uses."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        max_concurrency_per_workspace: int = 4,
        retry: RetryPolicy | None = None,
        observer: Observer | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_concurrency_per_workspace < 1:
            raise ValueError("max_concurrency_per_workspace must be at least 1")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._max_concurrency = max_concurrency_per_workspace
        self._retry = retry or RetryPolicy()
        self._observer = observer
        self._sleep = sleep
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    def __repr__(self) -> str:
        return (
            f"SkyviaClient(base_url={self._base_url!r}, "
            f"max_concurrency_per_workspace={self._max_concurrency})"
        )

    # Workspaces

    async def list_workspaces(self, token: str) -> list[Workspace]:
        call = Call("GET", _WORKSPACES)
        return await self._get(token, call, _WORKSPACE_LIST.validate_python)

    async def get_workspace(self, token: str, workspace_id: int) -> Workspace:
        call = Call("GET", _WORKSPACE, workspace_id)
        return await self._get(token, call, Workspace.model_validate)

    # Backups

    async def list_backups(
        self, token: str, workspace_id: int, *, take: int = 20, skip: int = 0
    ) -> Page[Backup]:
        _check_take(take)
        _check_skip(skip)
        call = Call("GET", _BACKUPS, workspace_id, params={"take": take, "skip": skip})
        return await self._get(token, call, Page[Backup].model_validate)

    async def iter_backups(
        self, token: str, workspace_id: int, *, page_size: int = MAX_TAKE
    ) -> AsyncIterator[Backup]:
        _check_take(page_size)
        skip = 0
        while True:
            page = await self.list_backups(token, workspace_id, take=page_size, skip=skip)
            for backup in page.data:
                yield backup
            if not page.has_more or not page.data:
                return
            skip += len(page.data)

    async def get_backup(self, token: str, workspace_id: int, backup_id: int) -> Backup:
        call = Call("GET", _BACKUP, workspace_id, backup_id)
        return await self._get(token, call, Backup.model_validate)

    # Snapshots

    async def list_snapshots(
        self,
        token: str,
        workspace_id: int,
        backup_id: int,
        *,
        failed: bool | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        take: int = 20,
        skip: int = 0,
        sort_order: SortOrder | None = None,
        sort_by: SortBy | None = None,
    ) -> Page[Snapshot]:
        """Finished snapshots only; a running one is seen via `get_active_snapshot`."""
        _check_take(take)
        _check_skip(skip)
        params: dict[str, str | int] = {"take": take, "skip": skip}
        if failed is not None:
            params["failed"] = "true" if failed else "false"
        if start_date is not None:
            params["startDate"] = format_datetime(start_date)
        if end_date is not None:
            params["endDate"] = format_datetime(end_date)
        if sort_order is not None:
            if sort_order not in ("asc", "desc"):
                raise ValueError(f"sort_order must be 'asc' or 'desc', got {sort_order!r}")
            params["sortOrder"] = sort_order
        if sort_by is not None:
            if sort_by not in ("startTime", "snapshotId"):
                raise ValueError(f"sort_by must be 'startTime' or 'snapshotId', got {sort_by!r}")
            params["sortBy"] = sort_by
        call = Call("GET", _SNAPSHOTS, workspace_id, backup_id, params=params)
        return await self._get(token, call, Page[Snapshot].model_validate)

    async def get_snapshot(
        self, token: str, workspace_id: int, backup_id: int, snapshot_id: int
    ) -> Snapshot:
        call = Call("GET", _SNAPSHOT, workspace_id, backup_id, snapshot_id)
        return await self._get(token, call, Snapshot.model_validate)

    async def get_active_snapshot(
        self, token: str, workspace_id: int, backup_id: int
    ) -> ActiveRun | None:
        """The running snapshot, or None: Skyvia says "none" with 404, 204 or an empty/null body.

        Because 404 means "none" here, an unknown backup also reads as None on this endpoint.
        """
        call = Call("GET", _ACTIVE, workspace_id, backup_id)
        return await retry_calls(
            self._retry, self._sleep, lambda: self._request(token, call, _parse_active, True)
        )

    async def create_snapshot(self, token: str, workspace_id: int, backup_id: int) -> ActiveRun:
        """Start a snapshot, without ever starting two for one request.

        Skyvia documents no idempotency, so a POST whose answer was lost (timeout, 5xx, dropped
        connection) may or may not have started a run. Instead of re-sending it, look at
        `/active`: a run there is taken as ours and returned. Only when nothing runs is the POST
        sent once more, and its failure is final. 429 and 4xx are definite refusals and are
        raised at once; the caller decides whether to try later.
        """
        call = Call(
            "POST", _SNAPSHOTS, workspace_id, backup_id, json_body={"mode": "full", "params": {}}
        )

        async def post() -> ActiveRun:
            return await self._request(token, call, ActiveRun.model_validate)

        try:
            return await post()
        except SkyviaUnavailable as lost:
            logger.warning(
                "snapshot POST outcome unknown (%s); checking the active run before any retry",
                lost,
            )
        active = await self.get_active_snapshot(token, workspace_id, backup_id)
        if active is not None:
            logger.info(
                "snapshot POST: found active run %s of backup %s; not posting again",
                active.run_id,
                backup_id,
            )
            return active
        return await post()

    # Schedule

    async def get_schedule(self, token: str, workspace_id: int, backup_id: int) -> Schedule:
        call = Call("GET", _SCHEDULE, workspace_id, backup_id)
        return await self._get(token, call, Schedule.model_validate)

    async def enable_schedule(self, token: str, workspace_id: int, backup_id: int) -> Schedule:
        call = Call("POST", _SCHEDULE_ENABLE, workspace_id, backup_id)
        return await self._get(token, call, _schedule_parser(active=True))

    async def disable_schedule(self, token: str, workspace_id: int, backup_id: int) -> Schedule:
        call = Call("POST", _SCHEDULE_DISABLE, workspace_id, backup_id)
        return await self._get(token, call, _schedule_parser(active=False))

    # Plumbing

    async def _get(self, token: str, call: Call, parse: Callable[[Any], M]) -> M:
        """An idempotent call, retried per the policy."""
        return await retry_calls(
            self._retry, self._sleep, lambda: self._request(token, call, parse)
        )

    def _semaphore(self, workspace_id: int | None) -> asyncio.Semaphore | None:
        if workspace_id is None:
            return None
        semaphore = self._semaphores.get(workspace_id)
        if semaphore is None:
            semaphore = self._semaphores[workspace_id] = asyncio.Semaphore(self._max_concurrency)
        return semaphore

    async def _request(
        self,
        token: str,
        call: Call,
        parse: Callable[[Any], M],
        none_if_missing: bool = False,
    ) -> M:
        """One HTTP attempt: send, observe, map the status, parse the body."""
        semaphore = self._semaphore(call.workspace_id)
        if semaphore is not None:
            async with semaphore:
                response = await self._send(token, call)
        else:
            response = await self._send(token, call)
        return interpret(token, call, response, parse, none_if_missing)

    async def _send(self, token: str, call: Call) -> httpx.Response:
        remember_secret(token)  # every token used is masked in every log line from now on
        headers = {"Authorization": token}
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self._http.request(
                call.method, self._url(call), json=call.json_body, headers=headers
            )
            status = response.status_code
            return response
        except httpx.TimeoutException as exc:
            # `from None`: the httpx exception holds the request, whose headers hold the token.
            raise call.error(
                SkyviaUnavailable, f"Skyvia timed out ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise call.error(
                SkyviaUnavailable, f"Skyvia unreachable ({type(exc).__name__})"
            ) from None
        finally:
            self._observe(call, status, time.perf_counter() - started)

    def _url(self, call: Call) -> httpx.URL:
        """The call's whole URL, parsed once: httpx parses a string URL, and again to merge
        `params=` into it (a third of a listing's CPU in the alert benchmark, where the scanner
        lists every backup every interval)."""
        url = self._base_url + call.path()
        if call.params:
            url += "?" + urlencode(call.params, quote_via=quote)
        return httpx.URL(url)

    def _observe(self, call: Call, status: int | None, seconds: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer(call.method, call.endpoint, status, seconds)
        except Exception:
            logger.exception("Skyvia call observer failed for %s", call.endpoint)


def _parse_active(body: Any) -> ActiveRun | None:
    if body is None or body == {} or body == "":
        return None
    return ActiveRun.model_validate(body)


def _schedule_parser(*, active: bool) -> Callable[[Any], Schedule]:
    """enable/disable: the OpenAPI returns the schedule; an empty 200 is read as "done"."""

    def parse(body: Any) -> Schedule:
        if body is None:
            return Schedule(active=active)
        return Schedule.model_validate(body)

    return parse


__all__ = ["RetryPolicy", "SkyviaClient", "build_http_client", "format_datetime"]
