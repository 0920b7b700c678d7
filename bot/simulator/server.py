"""Serving the simulator with uvicorn inside the caller's event loop.

`running_simulator` is what tests use: no subprocess, a free port, and the state object at hand
for direct control. The CLI uses the same path and only adds signal handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from bot.simulator.app import create_app
from bot.simulator.seed import Seed
from bot.simulator.state import DEFAULT_SCHEDULE_INTERVAL, SimulatorState
from bot.simulator.tokens import TokenSpec


@dataclass(frozen=True)
class RunningSimulator:
    state: SimulatorState
    host: str
    port: int

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What the bot's `SKYVIA_API_URL` would be, e.g. `http://127.0.0.1:8081/v1`."""
        return self.root_url + "/v1"

    @property
    def admin_url(self) -> str:
        return self.root_url + "/_sim"

    @property
    def token(self) -> str:
        return self.state.token


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host (a test runner, or our CLI)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    """Bind first, so a busy port is a plain OSError here rather than uvicorn's sys.exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says it is TCP; with proto 0 every keep-alive request stalls ~40 ms
    # (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def running_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    tokens: TokenSpec | None = None,
    seed: Seed | Mapping[str, Any] | str | Path | None = None,
    schedule_interval: float | None = DEFAULT_SCHEDULE_INTERVAL,
    random_seed: int | None = 0,
    state: SimulatorState | None = None,
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on `host:port` (0: a free port) for the duration of the block.

    Without `state`, a fresh one is built from the other arguments (`seed`: a JSON seed file,
    its parsed mapping, or None for the default data; `tokens`: None for the documented defaults).
    """
    if state is None:
        state = SimulatorState(
            speed=speed,
            tokens=tokens,
            seed=seed,
            schedule_interval=schedule_interval,
            random_seed=random_seed,
        )
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    stopping = asyncio.Event()
    config = uvicorn.Config(
        create_app(state, stopping),
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the simulator stopped during start-up")
            await asyncio.sleep(0.005)
        yield RunningSimulator(state=state, host=host, port=bound_port)
    finally:
        stopping.set()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
