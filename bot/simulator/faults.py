"""Injected latency and errors, and the per-endpoint call counts tests assert on.

Endpoints are named `METHOD template`, e.g. `POST /workspaces/{workspaceId}/backups/{backupId}/
snapshots` — the same names the client reports to its observer. A rule without an endpoint
applies to every API call (never to the admin API).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ErrorRule:
    """Answer `status` instead of the real response.

    `rate` is the fraction of matching calls hit (None: every one); `remaining` bounds how many
    calls it hits in all (None: no bound). With `after_processing`, the call takes effect first
    and only its answer is replaced — the case where a client cannot tell whether it worked.
    """

    status: int
    rate: float | None = None
    remaining: int | None = None
    endpoint: str | None = None
    retry_after: float | None = None
    after_processing: bool = False

    def matches(self, endpoint: str) -> bool:
        return self.endpoint is None or self.endpoint == endpoint


@dataclass
class LatencyRule:
    """Delay the answer (wall seconds, not simulated) after the call took effect."""

    seconds: float
    endpoint: str | None = None
    remaining: int | None = None

    def matches(self, endpoint: str) -> bool:
        return self.endpoint is None or self.endpoint == endpoint


@dataclass(frozen=True)
class FaultPlan:
    latency: float = 0.0
    error: ErrorRule | None = None

    @property
    def error_before(self) -> ErrorRule | None:
        return self.error if self.error and not self.error.after_processing else None

    @property
    def error_after(self) -> ErrorRule | None:
        return self.error if self.error and self.error.after_processing else None


@dataclass
class Faults:
    rng: random.Random = field(default_factory=random.Random)
    errors: list[ErrorRule] = field(default_factory=list)
    latencies: list[LatencyRule] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    backup_calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    """Calls by (endpoint, backup id), for the endpoints under a backup: what a benchmark needs
    to tell a backup with a run going from an idle one."""

    def clear(self) -> None:
        self.errors.clear()
        self.latencies.clear()

    def plan(self, endpoint: str) -> FaultPlan:
        """Decide, once per call, what goes wrong with it; consumes counted rules."""
        latency = 0.0
        for delay in self.latencies:
            if delay.matches(endpoint) and delay.remaining != 0:
                latency += delay.seconds
                if delay.remaining is not None:
                    delay.remaining -= 1
        self.latencies = [r for r in self.latencies if r.remaining != 0]
        chosen: ErrorRule | None = None
        for rule in self.errors:
            if not rule.matches(endpoint) or rule.remaining == 0:
                continue
            if rule.rate is not None and self.rng.random() >= rule.rate:
                continue
            chosen = rule
            if rule.remaining is not None:
                rule.remaining -= 1
            break
        self.errors = [r for r in self.errors if r.remaining != 0]
        return FaultPlan(latency=latency, error=chosen)


class FaultControls:
    """The fault and call-count controls of `SimulatorState` (and of the admin API through it)."""

    faults: Faults

    def add_latency(
        self, seconds: float, *, endpoint: str | None = None, count: int | None = None
    ) -> None:
        """Delay answers by `seconds` (wall time), after the call took effect."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        self.faults.latencies.append(LatencyRule(seconds, endpoint, count))

    def inject_errors(
        self,
        status: int,
        *,
        rate: float | None = None,
        count: int | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer `status` for a fraction (`rate`) and/or the next `count` matching calls.

        With neither, every matching call fails until `clear_faults()`. A 429 carries
        `Retry-After: retry_after` (default 1 s).
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if rate is not None and not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if status == 429 and retry_after is None:
            retry_after = 1
        self.faults.errors.append(
            ErrorRule(status, rate, count, endpoint, retry_after, after_processing)
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def record_call(self, endpoint: str, backup_id: int | None = None) -> None:
        self.faults.calls[endpoint] += 1
        if backup_id is not None:
            self.faults.backup_calls[(endpoint, backup_id)] += 1

    def call_counts(self) -> dict[str, int]:
        return dict(self.faults.calls)

    def backup_call_counts(self, endpoint: str) -> dict[int, int]:
        """How many calls each backup had of one endpoint (`GET .../snapshots/active`, say)."""
        return {b: n for (e, b), n in self.faults.backup_calls.items() if e == endpoint}

    def reset_call_counts(self) -> None:
        self.faults.calls.clear()
        self.faults.backup_calls.clear()
