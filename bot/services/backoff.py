"""Backoff after Skyvia errors: per row (in the database) and per workspace (in this process).

A row that failed on its own (an unexpected error, a refused Slack post) waits
`retry_delay(errors)` before it is due again, so a broken row never spins.

A workspace that answered 429 or 5xx (or timed out) is held, for every watch and cursor of it:
when Skyvia is overloaded or down the bot must send less, not the same amount from more rows.
While held, one call (a probe) goes out per `base` seconds, whoever makes it; a 429's
Retry-After holds every call until it has passed. The first success ends the hold, so after an
outage the work resumes within about one interval, however long the outage lasted: a delay that
doubled per failed call (every cursor of a round counting) held a workspace for minutes after a
15-second outage. Each worker keeps its own `WorkspaceBackoff`, so the alert scanner's errors
never delay a watch, nor the other way round. Errors of one row (a 404 for one snapshot) are
that row's and never hold the workspace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta


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
        self._next_probe: dict[int, float] = {}
        self._hold_until: dict[int, float] = {}

    def remaining(self, workspace_id: int) -> float:
        """Seconds until the workspace may be called again (0: call it now).

        A 0 for a held workspace makes the caller its probe: the next caller waits `base`.
        """
        now = self._clock()
        hold = self._hold_until.get(workspace_id, 0.0) - now
        if hold > 0:
            return hold
        self._hold_until.pop(workspace_id, None)
        probe_at = self._next_probe.get(workspace_id)
        if probe_at is None:
            return 0.0
        if probe_at <= now:
            self._next_probe[workspace_id] = now + self._base
            return 0.0
        return probe_at - now

    def failed(self, workspace_id: int, retry_after: float | None = None) -> float:
        """Records a 429/5xx/timeout; returns the delay before the workspace is called again."""
        now = self._clock()
        delay = self._base
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._cap))
            self._hold_until[workspace_id] = max(
                self._hold_until.get(workspace_id, 0.0), now + delay
            )
        self._next_probe[workspace_id] = max(
            self._next_probe.get(workspace_id, 0.0), now + self._base
        )
        return delay

    def succeeded(self, workspace_id: int) -> None:
        """Skyvia answered: the workspace is no longer held."""
        self._next_probe.pop(workspace_id, None)
        self._hold_until.pop(workspace_id, None)

    def held(self, workspace_id: int) -> bool:
        """Whether the workspace is held (for logs and tests; takes no probe)."""
        now = self._clock()
        return self._hold_until.get(workspace_id, 0.0) > now or workspace_id in self._next_probe


def next_due(due_at: datetime, now: datetime, interval: float) -> datetime:
    """When periodic work that was due at `due_at` and is done `now` is due again.

    Anchored to the schedule, not to when the work got done: a round that starts each
    interval finds it due again one interval later, however long its own work took (from `now`
    it would slip a whole round every other interval). Never before `now`: work that fell far
    behind is due once at once, not once per missed interval.
    """
    return max(due_at + timedelta(seconds=interval), now)
