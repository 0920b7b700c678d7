"""A local stand-in for Slack's Socket Mode WebSocket, beside the Web API stand-in.

`apps.connections.open` on the `FakeSlack` answers with this server's URL; the bot connects as it
would to Slack, and a test pushes envelopes (slash commands, interactions, events) through the
socket and reads the bot's acknowledgements — so Socket Mode is exercised end to end, offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from bot.devtools.slack_standin import FakeSlack
from bot.devtools.waiting import poll


class SocketModeStandIn:
    def __init__(self) -> None:
        self.url: str | None = None
        self.acks: list[dict[str, Any]] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._connected = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {"host": "standin", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0TEST"},
                }
            )
        )
        self._connected.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    with contextlib.suppress(ValueError):
                        self.acks.append(json.loads(message.data))
        finally:
            self._sockets.remove(ws)
        return ws

    async def wait_connected(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Pushes one envelope to the connected bot; returns its envelope_id."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection")
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_str(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        return envelope_id

    async def slash_command(
        self, slack: FakeSlack, text: str, *, channel_id: str, user_id: str, response_id: str
    ) -> dict[str, Any]:
        """`/skyvia <text>` typed by `user_id` in `slack`'s workspace; returns the bot's ack."""
        envelope = await self.send(
            "slash_commands",
            {
                "token": "deprecated",
                "team_id": slack.team_id,
                "team_domain": slack.team_domain,
                "channel_id": channel_id,
                "channel_name": channel_id.lower(),
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": "/skyvia",
                "text": text,
                "api_app_id": slack.app_id,
                "response_url": slack.response_url(response_id),
                "trigger_id": f"1.2.{response_id}",
            },
        )
        return await self.wait_for_ack(envelope)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        def ack() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        held, found = await poll(ack, timeout=timeout, interval=0.02)
        if not held or found is None:
            raise AssertionError(f"no ack for envelope {envelope_id}; acks seen: {self.acks}")
        return found


@contextlib.asynccontextmanager
async def running_socket_mode(slack: FakeSlack) -> AsyncIterator[SocketModeStandIn]:
    """Serves the socket on 127.0.0.1 and points the Web API stand-in's
    `apps.connections.open` at it for the block's duration."""
    standin = SocketModeStandIn()
    app = web.Application()
    app.router.add_get("/link", standin._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None and server.sockets  # type: ignore[attr-defined]
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    standin.url = f"ws://127.0.0.1:{port}/link"
    slack.socket_mode_url = standin.url
    try:
        yield standin
    finally:
        slack.socket_mode_url = None
        for ws in list(standin._sockets):
            await ws.close()
        await runner.cleanup()
