"""Which workers a process runs: the sender (the outbox's drain), the watcher and the alert
scanner, retention, and the timers (ends of timed mutes and maintenance windows).

The watcher, the scanner and the timers owe their messages into the outbox through one
notifier; only the sender talks to Slack for them, at Slack's pace. They share the write
batcher. Each backs off from a troubled Skyvia workspace on its own (`bot.services.backoff`):
a shared backoff let the scanner's errors hold a new watch for minutes. Each process gets its own
lease owner id, so two processes never hold the same work.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, TypedDict

from bot.config import Settings
from bot.metrics import Metrics
from bot.services.alerting import AlertingConfig, AlertingService
from bot.services.announcements import Announcer
from bot.services.bindings import BindingService
from bot.services.health import HealthService
from bot.services.leased import lease_for
from bot.services.retention import RetentionPolicy, RetentionService
from bot.services.schedules import ScheduleService
from bot.services.takers import AlertTakers
from bot.services.timers import TimerService
from bot.services.watching import WatchingConfig, WatchingService
from bot.skyvia.client import SkyviaClient
from bot.slack.announcer import SlackAnnouncer
from bot.slack.clients import SlackClients
from bot.slack.notifier import Notifier
from bot.slack.outbox import OutboxSender
from bot.slack.pacing import Pace
from bot.slack.steps import StepCompleter
from bot.workers.alert_scanner import AlertScanner
from bot.workers.retention import RetentionWorker
from bot.workers.sender import Sender
from bot.workers.timers import TimerWorker
from bot.workers.watcher import Watcher
from storage.batching import WriteBatcher
from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import new_lease_owner

if TYPE_CHECKING:
    from bot.workers.base import PeriodicWorker


class WorkerNeeds(Protocol):
    """What the workers take from the composition root; `bot.container.Container` has it all.

    A protocol rather than the container itself, so workers sit below the composition root and
    a test can wire workers from exactly these parts.
    """

    @property
    def settings(self) -> Settings: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def db(self) -> Database: ...
    @property
    def skyvia(self) -> SkyviaClient: ...
    @property
    def slack(self) -> SlackClients: ...
    @property
    def bindings(self) -> BindingService: ...
    @property
    def cipher(self) -> TokenCipher: ...


class _SharedParts(TypedDict):
    """What the watching and alerting services share (typed, so `**` is checked)."""

    db: Database
    skyvia: SkyviaClient
    bindings: BindingService
    announcer: Announcer
    batcher: WriteBatcher
    owner: str
    metrics: Metrics


def stale_claim_after(watch_interval: float, alert_interval: float) -> float:
    """When an unsent ledger claim counts as a crash leftover: beyond any live attempt.

    At least 8 s, so a post's `send_timeout` (half of this) covers a Slack 429 retry.
    """
    return max(8.0, lease_for(min(watch_interval, alert_interval)))


def _notifier(container: WorkerNeeds, batcher: WriteBatcher, owner: str) -> Notifier:
    """The one notifier of a process: owes every message, and sends what the senders claim
    (posts, edits, and Workflow Builder step completions)."""
    settings = container.settings
    return Notifier(
        slack=container.slack,
        batcher=batcher,
        owner=owner,
        stale_after=stale_claim_after(settings.watch_interval, settings.alert_interval),
        metrics=container.metrics,
        steps=StepCompleter(
            slack=container.slack, cipher=container.cipher, batcher=batcher, owner=owner
        ),
    )


def workers_for(container: WorkerNeeds) -> list[PeriodicWorker]:
    settings = container.settings
    owner = new_lease_owner("worker")
    batcher = WriteBatcher(container.db)
    notifier = _notifier(container, batcher, owner)
    common = _SharedParts(
        db=container.db,
        skyvia=container.skyvia,
        bindings=container.bindings,
        announcer=SlackAnnouncer(notifier),
        batcher=batcher,
        owner=owner,
        metrics=container.metrics,
    )
    watching = WatchingService(
        config=replace(
            WatchingConfig.for_interval(settings.watch_interval, settings.watch_give_up),
            step_limit=settings.step_limit,
        ),
        **common,
    )
    alerting = AlertingService(
        config=AlertingConfig.for_interval(settings.alert_interval, settings.alert_lookback),
        **common,
    )
    retention = RetentionService(
        db=container.db,
        policy=RetentionPolicy.from_settings(settings, alert_lookback=alerting.config.lookback),
    )
    takers = AlertTakers(container.db, common["announcer"])  # the digest names who is on it
    timers = TimerService(
        db=container.db,
        skyvia=container.skyvia,
        bindings=container.bindings,
        schedules=ScheduleService(db=container.db, skyvia=container.skyvia),
        announcer=common["announcer"],
        health=HealthService(skyvia=container.skyvia, bindings=container.bindings, takers=takers),
        owner=owner,
        interval=settings.alert_interval,
    )
    metrics = container.metrics
    sender = OutboxSender(
        notifier=notifier,
        batcher=batcher,
        owner=owner,
        pace=Pace(settings.pace),
        metrics=metrics,
    )
    return [
        Sender(sender, metrics=metrics),
        Watcher(watching, metrics=metrics),
        AlertScanner(alerting, metrics=metrics),
        RetentionWorker(retention, owner=owner, metrics=metrics),
        TimerWorker(timers, metrics=metrics),
    ]
