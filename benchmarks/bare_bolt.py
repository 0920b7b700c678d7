"""The ack-latency baseline: a Bolt `AsyncApp` whose one `/skyvia` listener only acks.

It is served exactly like the bot (Bolt's Starlette adapter behind uvicorn, same settings, its own
process), so the ratio of the bot's latency to this one's is the cost of the bot's own work on
the request path, not of the stack.

    python -m benchmarks.bare_bolt

(env: PORT, SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL)
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def create_bare_app(*, signing_secret: str, token: str, slack_api_url: str) -> Starlette:
    # Same shape as `bot.app.create_app`: a client passed in, responses after ack.
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=slack_api_url),
        signing_secret=signing_secret,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    async def on_skyvia(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()

    app.command("/skyvia")(on_skyvia)
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    web = create_bare_app(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token=os.environ["SLACK_BOT_TOKEN"],
        slack_api_url=os.environ["SLACK_API_URL"],
    )
    # The bot's uvicorn settings (bot.runtime.serve), on loopback.
    uvicorn.run(
        web,
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
