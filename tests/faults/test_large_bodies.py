"""Oversized bodies are refused with 413 before they are read, whatever their framing.

Slack's payloads are far under the limit; anything bigger is refused from its Content-Length
header alone, or, for a chunked body, as soon as the bytes received pass the limit — so a
stranger cannot make the process hold a large body in memory (it is read before the signature
can be checked).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

from bot.web import MAX_BODY_BYTES
from tests.e2e.bot_fixtures import Stack

HUGE = 64 * 1024 * 1024
CHUNK = 64 * 1024


async def _post_streaming(url: str, *, chunked: bool, total: int = HUGE) -> tuple[int, int]:
    """POSTs `total` bytes to `url` over a raw socket, stopping once the server answers.

    Returns (status code, bytes of body written before the answer came).
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    writer.write(
        (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n"
        ).encode()
    )
    status_line = asyncio.create_task(reader.readline())
    sent = 0
    try:
        while sent < total and not status_line.done():
            data = b"x" * CHUNK
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            sent += len(data)
            try:
                await asyncio.wait_for(writer.drain(), timeout=10)
            except (ConnectionError, TimeoutError):
                break
        if chunked and sent >= total and not status_line.done():
            writer.write(b"0\r\n\r\n")
        line = await asyncio.wait_for(status_line, timeout=30)
    finally:
        status_line.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return int(line.split()[1]), sent


async def test_a_declared_huge_body_is_refused_before_it_is_read(stack: Stack) -> None:
    status, sent = await _post_streaming(f"{stack.bot.url}/slack/events", chunked=False)
    assert status == 413
    assert sent < HUGE // 4, f"the server read {sent} bytes before answering"


async def test_a_chunked_huge_body_is_refused_once_it_passes_the_limit(stack: Stack) -> None:
    status, sent = await _post_streaming(f"{stack.bot.url}/slack/events", chunked=True)
    assert status == 413
    assert sent < HUGE // 4, f"the server read {sent} bytes before answering"


async def test_a_signed_body_under_the_limit_is_still_served(stack: Stack) -> None:
    padding = "x" * (MAX_BODY_BYTES - 200)
    body = json.dumps({"type": "url_verification", "challenge": "c-1", "pad": padding})
    response = await stack.send.raw(body.encode(), "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-1"}
    assert len(body) < MAX_BODY_BYTES
