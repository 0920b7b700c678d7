"""Backoff after Skyvia errors: per row (in the database) and per workspace (in this process).

A row that failed waits `retry_delay(errors)` before it is due again, so a broken backup or
snapshot never spins. A workspace that answered 429 or 5xx is left alone, for every watch and
cursor of it, until its delay has passed: when Skyvia is overloaded the bot must send less, not
the same amount from more rows.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


def retry_delay(errors: int, *, base: float, cap: float, jitter: float = 0.2) -> float:
    """`base * 2**(errors-1)`, at most `cap`, give or take `jitter` (a fraction)."""
    if errors <= 0:
        return base
    delay = min(cap, base * 2.0 ** min(errors - 1, 30))
    return delay * random.uniform(1 - jitter, 1 + jitter)


class WorkspaceBackoff:
    def __init__(
        self, *, base: float, cap: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._base = base
        self._cap = cap
        self._clock = clock
        self._errors: dict[int, int] = {}
        self._until: dict[int, float] = {}

    def remaining(self, workspace_id: int) -> float:
        """Seconds until the workspace may be called again (0 when it may now)."""
        until = self._until.get(workspace_id)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._until[workspace_id]
            return 0.0
        return left

    def failed(self, workspace_id: int, retry_after: float | None = None) -> float:
        """Records a 429/5xx; returns the delay before the workspace is called again."""
        errors = self._errors.get(workspace_id, 0) + 1
        self._errors[workspace_id] = errors
        delay = retry_delay(errors, base=self._base, cap=self._cap)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._cap))
        self._until[workspace_id] = max(self._until.get(workspace_id, 0.0), self._clock() + delay)
        return delay

    def succeeded(self, workspace_id: int) -> None:
        self._errors.pop(workspace_id, None)
