"""Async wrapper of the admin API, for tests that run the simulator in another process.

Mirrors the controls of `SimulatorState`; every method raises `httpx.HTTPStatusError` when the
simulator refuses (unknown id: 404, bad value: 400).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx


class SimulatorAdmin:
    """`SimulatorAdmin("http://127.0.0.1:8081/_sim")`; pass `http` to share a client."""

    def __init__(self, admin_url: str, http: httpx.AsyncClient | None = None) -> None:
        self._url = admin_url.rstrip("/")
        self._own = http is None
        self._http = http or httpx.AsyncClient(timeout=10.0)

    def __repr__(self) -> str:
        return f"SimulatorAdmin({self._url!r})"

    async def __aenter__(self) -> SimulatorAdmin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = await self._http.request(method, self._url + path, json=body)
        response.raise_for_status()
        return response.json()

    async def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/state")
        return result

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def fail_next(self, backup_id: int, log: str | None = None, *, count: int = 1) -> None:
        await self._call("POST", f"/backups/{backup_id}/fail-next", {"log": log, "count": count})

    async def run_scheduled_now(
        self, backup_id: int, *, fail: bool = False, log: str | None = None
    ) -> dict[str, Any]:
        """Returns the new snapshot (details DTO plus backupId, successRows, errorRows)."""
        result: dict[str, Any] = await self._call(
            "POST", f"/backups/{backup_id}/run-scheduled", {"fail": fail, "log": log}
        )
        return result

    async def snapshots_of(self, backup_id: int) -> list[dict[str, Any]]:
        """Every snapshot of the backup, running ones included, oldest first."""
        result = await self._call("GET", f"/backups/{backup_id}/snapshots")
        return list(result["data"])

    async def finish_snapshot(
        self, snapshot_id: int, state: str = "Succeeded", log: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", f"/snapshots/{snapshot_id}/finish", {"state": state, "log": log}
        )
        return result

    async def finish_all_running(self, state: str = "Succeeded") -> int:
        return int((await self._call("POST", "/finish-all", {"state": state}))["finished"])

    async def add_latency(
        self, seconds: float, *, endpoint: str | None = None, count: int | None = None
    ) -> None:
        await self._call(
            "POST", "/latency", {"seconds": seconds, "endpoint": endpoint, "count": count}
        )

    async def inject_errors(
        self,
        status: int,
        *,
        rate: float | None = None,
        count: int | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
        after_processing: bool = False,
    ) -> None:
        body = {
            "status": status,
            "rate": rate,
            "count": count,
            "endpoint": endpoint,
            "retryAfter": retry_after,
            "afterProcessing": after_processing,
        }
        await self._call("POST", "/faults", body)

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def add_data(self, seed: Mapping[str, Any]) -> list[int]:
        """Add workspaces/backups in the seed-file format; returns the workspace ids."""
        return list((await self._call("POST", "/data", seed))["workspaceIds"])

    async def add_bulk(
        self,
        workspaces: int,
        backups_per_workspace: int,
        *,
        scheduled_every: int = 2,
        history: int = 0,
    ) -> list[int]:
        body = {
            "workspaces": workspaces,
            "backupsPerWorkspace": backups_per_workspace,
            "scheduledEvery": scheduled_every,
            "history": history,
        }
        return list((await self._call("POST", "/bulk", body))["workspaceIds"])

    async def add_token(self, token: str, workspaces: Iterable[int] | None = None) -> None:
        scope = list(workspaces) if workspaces is not None else None
        await self._call("POST", "/tokens", {"token": token, "workspaces": scope})

    async def set_speed(self, speed: float) -> None:
        await self._call("POST", "/speed", {"speed": speed})

    async def advance(self, seconds: float) -> None:
        await self._call("POST", "/advance", {"seconds": seconds})

    async def set_schedule_interval(self, seconds: float | None) -> None:
        await self._call("POST", "/schedule-interval", {"seconds": seconds})

    async def call_counts(self) -> dict[str, int]:
        return dict((await self._call("GET", "/calls"))["calls"])

    async def reset_call_counts(self) -> None:
        await self._call("DELETE", "/calls")
