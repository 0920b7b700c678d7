"""Prometheus metrics (docs/reference/configuration.md#metrics), in a registry per process
object (not the global one).

A registry of our own keeps tests that build several apps in one process from colliding, and
keeps `/metrics` to what the bot itself measures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.slack_requests = Counter(
            "skyvia_bot_slack_requests_total",
            "Requests received from Slack, by kind (command, action, view, event).",
            ["kind"],
            registry=r,
        )
        self.skyvia_calls = Counter(
            "skyvia_bot_skyvia_calls_total",
            "Calls to the Skyvia API by endpoint template and status (or error kind).",
            ["endpoint", "status"],
            registry=r,
        )
        self.skyvia_latency = Histogram(
            "skyvia_bot_skyvia_call_seconds",
            "Latency of Skyvia API calls.",
            ["endpoint"],
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.slack_calls = Counter(
            "skyvia_bot_slack_calls_total",
            "Calls to the Slack Web API by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.watches_pending = Gauge(
            "skyvia_bot_watches_pending", "Watched snapshots not finished yet.", registry=r
        )
        self.alerts_sent = Counter(
            "skyvia_bot_alerts_sent_total", "Failure alerts posted to channels.", registry=r
        )
        self.thread_replies_sent = Counter(
            "skyvia_bot_thread_replies_sent_total",
            "Outcome replies posted in snapshot threads.",
            registry=r,
        )
        self.poll_lag = Gauge(
            "skyvia_bot_poll_lag_seconds",
            "How late the oldest due watch or alert scan was when it was picked up.",
            ["worker"],
            registry=r,
        )
        self._outbox(r)
        self.worker_ticks = Counter(
            "skyvia_bot_worker_ticks_total",
            "Rounds of work each worker finished (failed ones too), by worker.",
            ["worker"],
            registry=r,
        )
        self.worker_tick_seconds = Histogram(
            "skyvia_bot_worker_tick_seconds",
            "How long each round of a worker took, by worker: a scan round that outgrows the "
            "interval means the scans fall behind.",
            ["worker"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
        )

    def _outbox(self, r: CollectorRegistry) -> None:
        self.outbox_depth = Gauge(
            "skyvia_bot_outbox_depth",
            "Messages owed to Slack and queued in the outbox, by priority (0 replies and alerts, "
            "1 episode replies and notes, 2 edits).",
            ["priority"],
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "skyvia_bot_outbox_oldest_age_seconds",
            "How long the oldest queued message of each priority has waited.",
            ["priority"],
            registry=r,
        )

    def observe_skyvia(
        self, method: str, endpoint: str, status: int | None, seconds: float
    ) -> None:
        """Observer for SkyviaClient: one sample per HTTP attempt.

        `endpoint` is already "METHOD /path/{template}", so it is the label as it is.
        """
        label = endpoint if endpoint.startswith(method) else f"{method} {endpoint}"
        self.skyvia_calls.labels(label, str(status) if status is not None else "error").inc()
        self.skyvia_latency.labels(label).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
