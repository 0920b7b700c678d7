"""Starlette app for HTTP mode: /slack/events (+ OAuth pages), /healthz, /readyz, /metrics.

The lifespan owns the background workers and the container, so uvicorn's graceful shutdown on
SIGTERM finishes the requests in flight, then stops the workers, then closes the clients.

Two guards stand before Bolt, because Bolt reads and parses a body before it checks the
signature, and answers 500 to anything it cannot parse: bodies over `MAX_BODY_BYTES` are refused
with 413 before they are read (`BodyLimit`), and a body that cannot be parsed is answered 400 if
Slack signed it (401 if not), with one log line and no traceback.

And the body is parsed here, not by Bolt (`SlackFormRequest`): Bolt takes any form body in which
the text `payload` occurs for an interactive payload, so `/skyvia backups payload`, or any command
typed in `#payload-team`, would reach no listener. Socket Mode is not concerned: its envelopes
arrive already parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import (
    AsyncSlackRequestHandler,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
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
    """Why `parse_slack_body` could not parse `body`, or None if it can.

    JSON when the content type says so or the body starts with `{`, else a form whose `payload`
    field, if it has one (and then only one), is JSON; JSON must be an object.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if not text:
        return None
    if _is_json(text, content_type):
        return _not_an_object(text, "body")
    payloads = parse_qs(text, keep_blank_values=True).get("payload")
    if payloads is None:
        return None
    if len(payloads) > 1:
        return "form has more than one payload"
    return _not_an_object(payloads[0], "payload")


def parse_slack_body(text: str, content_type: str | None) -> dict[str, Any]:
    """A request body as Slack meant it; call it on bodies `malformed` passed.

    An interactive request is a form whose field named `payload` holds the JSON; a slash command
    is a form of plain fields, however often the word "payload" occurs in their values; events
    are JSON. (Bolt's own parser tests the whole body for the text `payload` instead.)
    """
    if not text:
        return {}
    if _is_json(text, content_type):
        parsed: dict[str, Any] = json.loads(text)
        return parsed
    fields = parse_qs(text, keep_blank_values=True)
    if "payload" in fields:
        payload: dict[str, Any] = json.loads(fields["payload"][0])
        return payload
    return {name: values[-1] for name, values in fields.items()}


def _is_json(text: str, content_type: str | None) -> bool:
    return content_type == "application/json" or text.startswith("{")


class SlackFormRequest(AsyncBoltRequest):
    """A Bolt request (HTTP mode) whose body and context come from `parse_slack_body`.

    Bolt still gets the raw text, for its signature check; only what the listeners read changes.
    """

    def __init__(
        self,
        *,
        body: str,
        query: str | dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(body=body, query=query, headers=headers, context=context)
        self.body = parse_slack_body(self.raw_body, self.content_type)
        self.context = build_async_context(AsyncBoltContext(context or {}), self.body)

    def to_copyable(self) -> SlackFormRequest:
        """The copy Bolt makes for lazy listeners, parsed the same way."""
        return SlackFormRequest(
            body=self.raw_body,
            query=dict(self.query),
            headers=dict(self.headers),
            context=self.context.to_copyable(),
        )


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
    bolt_app: AsyncApp, signing_secret: str | None
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

    async def dispatch(request: Request) -> Response:
        """Bolt's Starlette adapter, but with the body parsed by `SlackFormRequest`."""
        bolt_request = SlackFormRequest(
            body=(await request.body()).decode("utf-8"),
            query=request.url.query,
            headers=dict(request.headers),
        )
        return to_starlette_response(await bolt_app.async_dispatch(bolt_request))

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        response = await refuse_malformed(request)
        if response is None:
            response = await dispatch(request)
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
        Route("/slack/events", _slack_endpoint(bolt_app, signing_secret), methods=["POST"]),
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
