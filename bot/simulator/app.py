"""The simulator's ASGI app: the `/v1` API and the `/_sim` admin API over one state."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bot.simulator.admin import admin_routes
from bot.simulator.api import api_routes, error_response
from bot.simulator.state import SimulatorState


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unmatched paths (including non-numeric ids) and wrong methods, in Skyvia's error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    messages = {404: "The requested resource was not found.", 405: "Method not allowed."}
    return error_response(status, messages.get(status, "Request failed."))


def create_app(state: SimulatorState, stopping: asyncio.Event | None = None) -> Starlette:
    """`stopping`, once set, cuts injected latency short (see `running_simulator`)."""
    return Starlette(
        routes=[*api_routes(state, stopping or asyncio.Event()), *admin_routes(state)],
        exception_handlers={HTTPException: _http_error},
    )
