"""Which workers a process runs: the sender (the outbox's drain), the watcher and the alert
scanner, retention, and the timers (ends of timed mutes and maintenance windows).

The use cases behind them are built once, by the composition root (`bot.container`): the
watcher, the scanner and the timers owe their messages into the outbox through one notifier;
only the sender talks to Slack for them, at Slack's pace. Each backs off from a troubled Skyvia
workspace on its own (`bot.services.backoff`): a shared backoff let the scanner's errors hold a
new watch for minutes. Each process gets its own lease owner id, so two processes never hold
the same work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.metrics import Metrics
from bot.services.alerting.scanner import AlertingService
from bot.services.announcements import Announcer
from bot.services.health import HealthService
from bot.services.leasing import lease_for
from bot.services.retention import RetentionService
from bot.services.takers import AlertTakers
from bot.services.timers import TimerService
from bot.services.token_policy import TokenPolicy
from bot.services.watching import WatchingService
from bot.slack.delivery.senders import OutboxSender
from bot.workers.alert_scanner import AlertScanner
from bot.workers.retention import RetentionWorker
from bot.workers.sender import Sender
from bot.workers.timers import TimerWorker
from bot.workers.watcher import Watcher

if TYPE_CHECKING:
    from bot.workers.base import PeriodicWorker


@dataclass(frozen=True)
class Background:
    """The use cases the workers drive, built once per process (`bot.container`)."""

    owner: str
    watching: WatchingService
    alerting: AlertingService
    retention: RetentionService
    timers: TimerService
    sender: OutboxSender
    takers: AlertTakers
    health: HealthService
    announcer: Announcer
    """What every use case owes Slack goes through it (the listeners' refused cards too)."""


class WorkerNeeds(Protocol):
    """What the workers take from the composition root; `bot.container.Container` has it all.

    A protocol rather than the container itself, so workers sit below the composition root.
    """

    @property
    def metrics(self) -> Metrics: ...
    @property
    def token_policy(self) -> TokenPolicy: ...
    @property
    def background(self) -> Background: ...


def stale_claim_after(watch_interval: float, alert_interval: float) -> float:
    """When an unsent ledger claim counts as a crash leftover: beyond any live attempt.

    At least 8 s, so a post's `send_timeout` (half of this) covers a Slack 429 retry.
    """
    return max(8.0, lease_for(min(watch_interval, alert_interval)))


def workers_for(container: WorkerNeeds) -> list[PeriodicWorker]:
    parts, metrics = container.background, container.metrics
    return [
        Sender(parts.sender, metrics=metrics),
        Watcher(parts.watching, metrics=metrics),
        AlertScanner(parts.alerting, metrics=metrics),
        RetentionWorker(parts.retention, owner=parts.owner, metrics=metrics),
        TimerWorker(parts.timers, metrics=metrics),
    ]
