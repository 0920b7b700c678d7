"""When an idempotent Skyvia call is tried again, and for how long.

Timeouts, 429 and 5xx are retried with exponential backoff and full jitter, or after Skyvia's
Retry-After when it sends one; `RetryPolicy` bounds the attempts and the total wait, so a Slack
handler or a worker tick always gets an answer in predictable time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from bot.skyvia.errors import SkyviaRateLimited, SkyviaUnavailable

logger = logging.getLogger("bot.skyvia.client")

M = TypeVar("M")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying idempotent calls.

    `max_total` caps the wall time spent waiting between attempts, so a caller (a Slack handler,
    a worker tick) always gets an answer in predictable time. `max_retry_after` caps Skyvia's
    Retry-After hint: a hint larger than that, or than the remaining budget, ends the retries and
    surfaces `SkyviaRateLimited` so the caller can report it rather than hang.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 30.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total, self.max_retry_after) < 0:
            raise ValueError("retry delays must not be negative")

    def wait(self, state: RetryCallState) -> float:
        """Honour Retry-After (capped); else exponential backoff with full jitter."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, SkyviaRateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                # Waiting that long is not ours to decide: end the retries (the stop condition
                # sees a sleep beyond the budget) and let the caller report the rate limit.
                return self.max_total + error.retry_after
            return error.retry_after
        backoff = wait_random_exponential(multiplier=self.base_delay, max=self.max_delay)
        return backoff(state)


async def retry_calls(
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]],
    attempt: Callable[[], Awaitable[M]],
) -> M:
    """Runs `attempt` until it succeeds, fails for good, or the policy's budget is spent."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_total),
        wait=policy.wait,
        retry=retry_if_exception_type((SkyviaUnavailable, SkyviaRateLimited)),
        sleep=sleep,
        before_sleep=_log_retry,
        reraise=True,
    )

    async def once() -> M:  # tenacity awaits only what is a coroutine function
        return await attempt()

    return await retrying(once)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    sleep = state.next_action.sleep if state.next_action else 0.0
    logger.warning("Skyvia call failed (%s); retry %d in %.2fs", error, state.attempt_number, sleep)
