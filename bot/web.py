"""Starlette app for HTTP mode: /slack/events (+ OAuth pages), /healthz, /readyz, /metrics.

The lifespan owns the background workers and the container, so uvicorn's graceful shutdown on
SIGTERM finishes the requests in flight, then stops the workers, then closes the clients.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.container import Container
from bot.metrics import CONTENT_TYPE_LATEST

log = logging.getLogger("bot.web")


class Background(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def create_web_app(
    container: Container,
    bolt_app: AsyncApp,
    *,
    background: Background | None = None,
    close_container: bool = True,
) -> Starlette:
    handler = AsyncSlackRequestHandler(bolt_app)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        response = await handler.handle(request)
        log.info(
            "slack request",
            extra={
                "path": request.url.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "retry": request.headers.get("x-slack-retry-num"),
            },
        )
        return response

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        if await container.db.ping():
            return JSONResponse({"database": "ok"})
        return JSONResponse({"database": "unavailable"}, status_code=503)

    async def metrics(_: Request) -> Response:
        return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if container.settings.oauth_enabled:
        routes += [
            Route("/slack/install", handler.handle, methods=["GET"]),
            Route("/slack/oauth_redirect", handler.handle, methods=["GET"]),
        ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if background is not None:
            await background.start()
        try:
            yield
        finally:
            if background is not None:
                await background.stop()
            if close_container:
                await container.aclose()

    return Starlette(routes=routes, lifespan=lifespan)
