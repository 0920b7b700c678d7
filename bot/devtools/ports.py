"""A free loopback port for a child process that binds its own socket (tests, benchmarks)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port that was free a moment ago; the child binds it itself, so a race is possible but
    rare on loopback. Servers run in-process bind port 0 instead (see `serve_asgi_on_loopback`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
