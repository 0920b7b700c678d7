"""Starlette app for HTTP mode: /slack/events (+ OAuth pages), /healthz, /readyz, /metrics.

The lifespan owns the background workers and the container, so uvicorn's graceful shutdown on
SIGTERM finishes the requests in flight, then stops the workers, then closes the clients.

Two guards stand before Bolt, because Bolt reads and parses a body before it checks the
signature, and answers 500 to anything it cannot parse: bodies over `MAX_BODY_BYTES` are refused
with 413 before they are read (see `bot.http_guards`), and a body Bolt could not parse is
answered 400 if Slack signed it (401 if not), with one log line and no traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Protocol
from urllib.parse import parse_qsl

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.container import Container
from bot.metrics import CONTENT_TYPE_LATEST

log = logging.getLogger("bot.web")

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body served. Slack's payloads (a modal with its whole state included) stay
far below it; a bigger body is refused unread, before anyone could check its signature."""

SIGNATURE_MAX_AGE_SECONDS = 5 * 60
"""Slack's replay window for a signed request, as Bolt enforces it."""


class _BodyTooLarge(Exception):
    """Raised inside the app by `BodyLimit`'s receive once a streamed body passes the limit."""


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, without reading it.

    A declared Content-Length is judged before a byte is read; a chunked body is counted while
    it streams and cut off as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:  # pragma: no cover - every route reads its body before answering
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        log.warning(
            "request body over the limit refused",
            extra={"path": scope.get("path"), "limit": self.max_bytes},
        )
        response = PlainTextResponse("request body too large", status_code=413)
        # Connection: close, so the server drops the unread rest instead of draining it.
        response.headers["connection"] = "close"
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a plain response never reads
    return {"type": "http.disconnect"}


def malformed(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not parse `body`, or None if it can.

    Mirrors `slack_bolt.request.internals.parse_body`: JSON when the content type says so or the
    body starts with `{`, else a form whose optional `payload` field is JSON; JSON must be an
    object.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if not text:
        return None
    if content_type == "application/json" or text.startswith("{"):
        return _not_an_object(text, "body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _not_an_object(payload, "payload")
    return None


def _not_an_object(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return f"{what} is not JSON"
    return None if isinstance(value, dict) else f"{what} is not a JSON object"


def signed_by_slack(
    signing_secret: str | None, body: bytes, headers: Mapping[str, str], now: float
) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier needs UTF-8 text)."""
    if signing_secret is None:  # verification off (Socket Mode apps have nothing to sign)
        return True
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", signature)


def _content_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";")[0].strip() if value else None


class Background(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def _slack_endpoint(
    handler: AsyncSlackRequestHandler, signing_secret: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """`POST /slack/events`: malformed bodies refused before Bolt, one log line per request."""

    async def refuse_malformed(request: Request) -> Response | None:
        """400 for a signed body Bolt could not parse, 401 for an unsigned one; else None."""
        body = await request.body()  # cached: Bolt's adapter reads the same bytes again
        problem = malformed(body, _content_type(request))
        if problem is None:
            return None
        if not signed_by_slack(signing_secret, body, request.headers, time.time()):
            return PlainTextResponse("invalid request", status_code=401)
        log.warning("malformed Slack request refused: %s", problem, extra={"bytes": len(body)})
        return PlainTextResponse(f"malformed request: {problem}", status_code=400)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        response = await refuse_malformed(request)
        if response is None:
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

    return slack_events


def _ops_routes(container: Container) -> list[Route]:
    """Liveness, readiness (the database answers) and Prometheus metrics."""

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        if await container.db.ping():
            return JSONResponse({"database": "ok"})
        return JSONResponse({"database": "unavailable"}, status_code=503)

    async def metrics(_: Request) -> Response:
        return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def create_web_app(
    container: Container,
    bolt_app: AsyncApp,
    *,
    background: Background | None = None,
    close_container: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    handler = AsyncSlackRequestHandler(bolt_app)
    settings = container.settings
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    routes = [
        Route("/slack/events", _slack_endpoint(handler, signing_secret), methods=["POST"]),
        *_ops_routes(container),
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

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=max_body_bytes)],
    )
