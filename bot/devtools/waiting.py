"""Waiting for something to become true, for tests and benchmarks that watch a live system.

Everything the end-to-end tests check happens asynchronously (a worker posts, a process comes
up), so they poll. One poller means one place that decides how often to look and one failure
message that says what was awaited and what was last seen.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

DEFAULT_TIMEOUT = 15.0
DEFAULT_INTERVAL = 0.05


class WaitTimedOut(AssertionError):
    """The awaited condition did not hold in time (an AssertionError, so pytest shows it so)."""


@overload
async def poll(
    check: Callable[[], Awaitable[T]], *, timeout: float, interval: float = ...
) -> tuple[bool, T]: ...
@overload
async def poll(
    check: Callable[[], T], *, timeout: float, interval: float = ...
) -> tuple[bool, T]: ...
async def poll(
    check: Callable[[], Any], *, timeout: float, interval: float = DEFAULT_INTERVAL
) -> tuple[bool, Any]:
    """Calls `check` (sync or async) until its answer is truthy or `timeout` seconds pass.

    Returns whether it held and the last answer; `check` always runs at least once, and once
    more at the deadline, so a slow loop cannot miss a condition that became true meanwhile.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = check()
        value = await answer if inspect.isawaitable(answer) else answer
        if value:
            return True, value
        if loop.time() >= deadline:
            return False, value
        await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))


@overload
async def wait_until(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...
@overload
async def wait_until(
    check: Callable[[], T], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...
async def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    what: str = "",
) -> Any:
    """Returns `check`'s first truthy answer; raises `WaitTimedOut` naming `what` if none came."""
    held, last = await poll(check, timeout=timeout, interval=interval)
    if not held:
        awaited = what or getattr(check, "__qualname__", repr(check))
        raise WaitTimedOut(f"timed out after {timeout:g}s waiting for {awaited} (last: {last!r})")
    return last
