"""Builds and closes the long-lived things: engine, HTTP clients, Slack clients, services.

One object owns them so start-up order and shutdown (close clients, dispose the engine) live in
one place, and tests can build a container against any database and simulator URL.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypedDict

import httpx
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator

from bot.config import Settings
from bot.metrics import Metrics
from bot.services.alert_settings import AlertSettings
from bot.services.alerting.scanner import AlertingConfig, AlertingService
from bot.services.announcements import Announcer
from bot.services.backups import BackupService
from bot.services.bindings import BindingService
from bot.services.channel_pauses import ChannelPauses
from bot.services.clicks import ClickClaims
from bot.services.digests import DigestSettings
from bot.services.health import HealthService
from bot.services.mentions import AlertMentions
from bot.services.retention import RetentionPolicy, RetentionService
from bot.services.schedules import ScheduleService
from bot.services.snapshots import SnapshotService
from bot.services.steps import StepExecutions
from bot.services.subscriptions import Subscriptions
from bot.services.takers import AlertTakers
from bot.services.timers import TimerService
from bot.services.token_policy import TokenPolicy
from bot.services.watching import WatchingConfig, WatchingService
from bot.skyvia.client import SkyviaClient, build_http_client
from bot.slack.authz import Authorizer
from bot.slack.clients import SlackClients
from bot.slack.delivery.announcer import SlackAnnouncer
from bot.slack.delivery.notifier import Notifier
from bot.slack.delivery.pacing import Pace
from bot.slack.delivery.senders import OutboxSender
from bot.slack.delivery.steps import StepCompleter
from bot.slack.installation_store import EncryptedInstallationStore
from bot.slack.installations import TeamInstallations
from bot.workers.registry import Background, stale_claim_after
from handlers.context import Services
from storage.batching import WriteBatcher
from storage.crypto import TokenCipher, load_or_create_key
from storage.db import Database
from storage.repositories import new_lease_owner

log = logging.getLogger(__name__)


skyvia_log = logging.getLogger("bot.skyvia")


def token_cipher(settings: Settings) -> TokenCipher:
    """The cipher of stored tokens: the configured key(s), or the key file beside SQLite."""
    return TokenCipher(
        load_or_create_key(
            settings.encryption_key.get_secret_value() if settings.encryption_key else None,
            settings.sqlite_path,
        )
    )


def skyvia_observer(metrics: Metrics) -> Callable[[str, str, int | None, float], None]:
    """One metric sample per Skyvia HTTP attempt, and a log line (never the token): at INFO for
    an attempt that failed, at DEBUG for the rest (the alert scanner lists every backup every
    interval: hundreds of lines a second at INFO, and the metrics count them already)."""

    def observe(method: str, endpoint: str, status: int | None, seconds: float) -> None:
        metrics.observe_skyvia(method, endpoint, status, seconds)
        skyvia_log.log(
            logging.INFO if status is None or status >= 400 else logging.DEBUG,
            "skyvia call",
            extra={"endpoint": endpoint, "status": status, "ms": round(seconds * 1000, 1)},
        )

    return observe


def slack_clients(
    settings: Settings,
    metrics: Metrics,
    db: Database,
    cipher: TokenCipher,
    bindings: BindingService,
) -> SlackClients:
    """The Slack clients: the one bot token, or (OAuth) each team's encrypted installation."""
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if not settings.oauth_enabled:
        return SlackClients(base_url=settings.slack_api_url, metrics=metrics, bot_token=bot_token)
    assert settings.slack_client_id and settings.slack_client_secret  # oauth_enabled
    clients = SlackClients(
        base_url=settings.slack_api_url,
        metrics=metrics,
        bot_token=bot_token,
        installation_store=EncryptedInstallationStore(
            client_id=settings.slack_client_id, engine=db.engine, cipher=cipher
        ),
        enterprise_of=bindings.enterprise_of,
        db=db,
    )
    clients.rotator = AsyncTokenRotator(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        client=clients.oauth,
    )
    return clients


class SharedParts(TypedDict):
    """What the watching and alerting services share (typed, so `**` is checked)."""

    db: Database
    skyvia: SkyviaClient
    token_policy: TokenPolicy
    announcer: Announcer
    batcher: WriteBatcher
    pauses: ChannelPauses
    owner: str
    metrics: Metrics


@dataclass(frozen=True)
class Core:
    """What the listeners' and the workers' use cases are built on, each built once: the
    clients, the database, and the services both sides call."""

    settings: Settings
    metrics: Metrics
    db: Database
    cipher: TokenCipher
    skyvia: SkyviaClient
    slack: SlackClients
    pauses: ChannelPauses
    token_policy: TokenPolicy
    bindings: BindingService
    alert_settings: AlertSettings
    schedules: ScheduleService


def _notifier(core: Core, batcher: WriteBatcher, sending: WriteBatcher, owner: str) -> Notifier:
    """The process's one notifier: owes every message (through `batcher`, with the services'
    writes), and sends what the sender claims (posts, edits, and Workflow Builder step
    completions), writing their outcomes through `sending`; a channel Slack refuses is paused
    (`ChannelPauses`)."""
    settings, slack = core.settings, core.slack
    return Notifier(
        slack=slack,
        batcher=batcher,
        send_batcher=sending,
        pauses=core.pauses,
        owner=owner,
        stale_after=stale_claim_after(settings.watch_interval, settings.alert_interval),
        metrics=core.metrics,
        steps=StepCompleter(slack=slack, cipher=core.cipher, batcher=sending, owner=owner),
    )


def _polling(settings: Settings, common: SharedParts) -> tuple[WatchingService, AlertingService]:
    """The two services that poll Skyvia: watched runs, and every listened-to backup."""
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
    return watching, alerting


def _background(core: Core) -> Background:
    """The workers' use cases, and the ones the listeners share with them (timers, takers,
    health). One notifier and lease owner per process. On PostgreSQL the sender writes through a
    batcher of its own: scan rounds took 4.8 s, not 10.6, while 25,000 alerts went out. SQLite
    has one writer: two batchers waited on each other (all 25,000 in 141 s with one)."""
    settings, db = core.settings, core.db
    owner = new_lease_owner("bot")
    batcher = WriteBatcher(db)
    sending = WriteBatcher(db) if db.is_postgresql else batcher
    notifier = _notifier(core, batcher, sending, owner)
    announcer = SlackAnnouncer(notifier)
    common = SharedParts(
        db=db,
        skyvia=core.skyvia,
        token_policy=core.token_policy,
        announcer=announcer,
        batcher=batcher,
        pauses=core.pauses,
        owner=owner,
        metrics=core.metrics,
    )
    watching, alerting = _polling(settings, common)
    takers = AlertTakers(db, announcer)
    health = HealthService(skyvia=core.skyvia, alert_settings=core.alert_settings, takers=takers)
    retention = RetentionService(
        db=db,
        policy=RetentionPolicy.from_settings(settings, alert_lookback=alerting.config.lookback),
    )
    return Background(
        owner=owner,
        watching=watching,
        alerting=alerting,
        retention=retention,
        timers=TimerService(
            db=db,
            skyvia=core.skyvia,
            bindings=core.bindings,
            alert_settings=core.alert_settings,
            token_policy=core.token_policy,
            schedules=core.schedules,
            announcer=announcer,
            health=health,
            owner=owner,
            interval=settings.alert_interval,
        ),
        sender=OutboxSender(
            notifier=notifier,
            db=db,
            batcher=sending,
            owner=owner,
            pace=Pace(settings.pace),
            metrics=core.metrics,
        ),
        takers=takers,
        health=health,
        announcer=announcer,
    )


def _services(core: Core, background: Background) -> Services:
    """What the listeners call: the core's services, the request-side use cases, and the timers,
    takers and health the workers use too (the same objects)."""
    settings, db, skyvia, slack = core.settings, core.db, core.skyvia, core.slack
    return Services(
        authorizer=Authorizer(admins=settings.admins, operators=settings.operators),
        bindings=core.bindings,
        token_policy=core.token_policy,
        alert_settings=core.alert_settings,
        backups=BackupService(skyvia=skyvia),
        snapshots=SnapshotService(
            db=db,
            skyvia=skyvia,
            watch_interval=settings.watch_interval,
            announcer=background.announcer,
        ),
        schedules=core.schedules,
        clicks=ClickClaims(db),
        timers=background.timers,
        pauses=core.pauses,
        health=background.health,
        mentions=AlertMentions(db),
        digests=DigestSettings(db),
        steps=StepExecutions(db, core.cipher),
        takers=background.takers,
        subscriptions=Subscriptions(db),
        pace=background.sender.pace,
        installations=TeamInstallations(slack.installation_store, evict=slack.evict),
    )


@dataclass
class Container:
    """Every long-lived object of a process, each built once: the listeners get `services`,
    the workers `background` (the timers and `I'm on it` are the same objects in both)."""

    settings: Settings
    metrics: Metrics
    db: Database
    cipher: TokenCipher
    http: httpx.AsyncClient
    skyvia: SkyviaClient
    slack: SlackClients
    token_policy: TokenPolicy
    bindings: BindingService
    services: Services
    background: Background
    instance_id: str = field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}")

    @classmethod
    async def create(cls, settings: Settings, *, metrics: Metrics | None = None) -> Container:
        metrics = metrics or Metrics()
        db = Database.connect(
            settings.database_url,
            connect_timeout=settings.database_connect_timeout,
            statement_timeout=settings.database_statement_timeout,
        )
        cipher = token_cipher(settings)
        http = build_http_client()
        skyvia = SkyviaClient(http, settings.skyvia_api_url, observer=skyvia_observer(metrics))
        pauses = ChannelPauses(db)
        token_policy = TokenPolicy(
            db=db,
            cipher=cipher,
            pauses=pauses,
            default_token=settings.skyvia_api_token,
            default_token_teams=settings.default_token_teams_allowed,
        )
        bindings = BindingService(db=db, skyvia=skyvia, token_policy=token_policy)
        slack = slack_clients(settings, metrics, db, cipher, bindings)
        core = Core(
            settings=settings,
            metrics=metrics,
            db=db,
            cipher=cipher,
            skyvia=skyvia,
            slack=slack,
            pauses=pauses,
            token_policy=token_policy,
            bindings=bindings,
            alert_settings=AlertSettings(db=db, skyvia=skyvia),
            schedules=ScheduleService(db=db, skyvia=skyvia),
        )
        background = _background(core)
        services = _services(core, background)
        return cls(
            settings=settings,
            metrics=metrics,
            db=db,
            cipher=cipher,
            http=http,
            skyvia=skyvia,
            slack=slack,
            token_policy=token_policy,
            bindings=bindings,
            services=services,
            background=background,
        )

    async def aclose(self) -> None:
        """Closes every pool: Slack sessions, the Skyvia HTTP client, the database engine."""
        await self.slack.aclose()
        await self.http.aclose()
        await self.db.dispose()
