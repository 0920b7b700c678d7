"""Serving: migrations, container, Bolt app, then HTTP (uvicorn) or Socket Mode, plus workers.

Shutdown order matters for "nothing lost": stop taking requests, let the ones in flight finish,
stop the workers (they release their leases), then close the clients and the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import signal
from collections.abc import AsyncIterator

import uvicorn
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp

from bot.app import create_app
from bot.config import Settings
from bot.container import Container, token_cipher
from bot.web import create_web_app
from bot.workers import WorkerGroup, build_workers
from storage.db import upgrade_async

log = logging.getLogger("bot.runtime")

GC_THRESHOLDS = (2000, 10, 50)
"""The collector's generation thresholds once serving (Python's defaults: 700, 10, 10)."""


def settle_heap() -> None:
    """Takes what start-up built out of the garbage collector's reach, and collects less often.

    Why: an ack waits for whatever holds the event loop, and the longest holder was not our code
    but the collector's full passes over the ~140,000 objects that importing SQLAlchemy, Bolt,
    slack_sdk and pydantic leaves behind: 100-190 ms each, one every few seconds while alerts
    went out, so ack p99 was 105-200 ms against bare Bolt's 16 (`python -m benchmarks --only
    ack`, issue 17). `gc.freeze()` moves those long-lived objects to a generation no pass
    scans; the larger thresholds make the young passes rarer, so fewer objects reach the old
    generation and a full pass comes after 50 middle ones instead of 10. Measured on one quiet
    machine: p99 34 ms quiet and 36 ms with an alert wave, with the same p50. Called once,
    after the container and the app are built and before the first request or tick.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    frozen = gc.get_freeze_count()
    log.info("heap settled: %d start-up objects out of the collector's reach", frozen)


MALLOC_ARENAS = 2
"""glibc's malloc arenas once serving (its default: 8 per core). Each thread that allocates
gets an arena of its own up to that limit, and what one arena freed is not reused by another:
with aiosqlite's connection threads and the event loop's, the bot's peak RSS in the alert
benchmark was 239-245 MiB, and 218 MiB with two arenas, at the same speed."""

M_ARENA_MAX = -8
"""`mallopt`'s parameter for the arena limit (glibc's malloc.h)."""


def limit_malloc_arenas() -> bool:
    """Caps glibc's malloc arenas (`MALLOC_ARENAS`); False where malloc is not glibc's.

    Called before the first thread starts: a thread keeps the arena it was given.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):
        return False


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@contextlib.asynccontextmanager
async def _maybe_simulator(settings: Settings, enabled: bool) -> AsyncIterator[Settings]:
    """`run --simulator`: point the bot at an in-process simulator with its default token."""
    if not enabled:
        yield settings
        return
    from bot.simulator.server import running_simulator

    tokens = [settings.skyvia_api_token.get_secret_value()] if settings.skyvia_api_token else None
    async with running_simulator(port=0, tokens=tokens) as sim:
        log.info("Skyvia simulator at %s", sim.base_url)
        yield settings.model_copy(
            update={"skyvia_api_url": sim.base_url, "skyvia_api_token": SecretStr(sim.token)}
        )


async def report_undecryptable_tokens(container: Container) -> int:
    """Logs a warning per binding whose stored token does not decrypt; returns how many.

    Team and channel ids only. A worker pauses such a binding when it meets it; this tells the
    operator at start-up, before any channel goes quiet.
    """
    try:
        broken = await container.token_policy.undecryptable()
    except Exception:
        log.exception("could not check the stored tokens")
        return 0
    for team_id, channel_id in broken:
        log.warning(
            "binding %s/%s: its stored Skyvia token does not decrypt with the configured key",
            team_id,
            channel_id,
        )
    return len(broken)


async def serve(settings: Settings, *, socket_mode: bool, workers: bool, simulator: bool) -> int:
    settings.require_for_serving(http=not socket_mode)
    limit_malloc_arenas()
    await upgrade_async(settings.database_url, cipher=token_cipher(settings))
    async with _maybe_simulator(settings, simulator) as settings:
        container = await Container.create(settings)
        await report_undecryptable_tokens(container)
        app = create_app(container)
        background = build_workers(container) if workers else None
        settle_heap()
        if socket_mode:
            return await _serve_socket_mode(container, app, background)
        web = create_web_app(container, app, background=background)
        config = uvicorn.Config(
            web,
            host="0.0.0.0",
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=20,
        )
        log.info("serving Slack requests on port %s", settings.port)
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a no-op handler makes
        # that re-raise harmless so a clean stop exits 0 (what process supervisors expect).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        await uvicorn.Server(config).serve()
        return 0


async def _serve_socket_mode(
    container: Container, app: AsyncApp, background: WorkerGroup | None
) -> int:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert container.settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(app, container.settings.slack_app_token.get_secret_value())
    if background is not None:
        await background.start()
    try:
        await handler.connect_async()
        log.info("connected to Slack in Socket Mode")
        await wait_for_stop_signal()
    finally:
        await handler.close_async()
        if background is not None:
            await background.stop()
        await container.aclose()
    return 0


async def run_workers_only(settings: Settings) -> int:
    settings.require_for_serving(http=False)
    limit_malloc_arenas()
    await upgrade_async(settings.database_url, cipher=token_cipher(settings))
    container = await Container.create(settings)
    await report_undecryptable_tokens(container)
    background = build_workers(container)
    settle_heap()
    await background.start()
    log.info("workers running")
    try:
        await wait_for_stop_signal()
    finally:
        await background.stop()
        await container.aclose()
    return 0
