"""A notifier and its announcer, wired to the fake Slack, the simulator and a test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.devtools.slack_standin import FakeSlack
from bot.metrics import Metrics
from bot.services.alert_settings import AlertSettings
from bot.services.bindings import BindingService
from bot.services.channel_pauses import ChannelPauses
from bot.services.token_policy import TokenPolicy
from bot.simulator import RunningSimulator
from bot.skyvia.client import SkyviaClient
from bot.slack.clients import SlackClients
from bot.slack.delivery.announcer import SlackAnnouncer
from bot.slack.delivery.notifier import Notifier
from bot.slack.delivery.pacing import Pace, PaceConfig
from bot.slack.delivery.senders import OutboxSender
from storage.batching import WriteBatcher
from storage.crypto import TokenCipher
from storage.db import Database
from storage.models import Watch
from storage.records import BindingRecord
from storage.repositories import BindingRepository, WatchRepository
from tests.constants import CHANNEL, TEAM
from tests.outbox_kit import flush_outbox

STALE_AFTER = 8.0


def binding_record(
    binding_id: int,
    channel: str = CHANNEL,
    *,
    since: datetime = datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    ciphertext: str | None = None,
) -> BindingRecord:
    """A channel bound to workspace 123 since `since`, alerts on, as the repositories hand it
    to the services: for a test of a service's logic that needs no database."""
    return BindingRecord(
        id=binding_id,
        team_id=TEAM,
        enterprise_id=None,
        channel_id=channel,
        workspace_id=123,
        workspace_name=None,
        token_ciphertext=ciphertext,
        created_by="U0ADMIN",
        created_at=since,
        alerts_enabled=True,
        alerts_since=since,
        paused_reason=None,
        paused_at=None,
        updated_at=since,
        alert_mentions=None,
    )


@dataclass
class Clock:
    """A settable clock for workers: `now` moves only when a test moves it."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Kit:
    db: Database
    slack: FakeSlack
    clients: SlackClients
    batcher: WriteBatcher
    notifier: Notifier
    announcer: SlackAnnouncer
    metrics: Metrics
    clock: Clock
    sender: OutboxSender
    pauses: ChannelPauses

    async def flush(self, rounds: int = 50) -> None:
        """Lets the sender drain the outbox: what the services owed reaches the fake Slack."""
        await flush_outbox(self.sender, self.db, rounds=rounds)

    async def add_watch(self, snapshot_id: int, message_ts: str | None) -> Watch:
        """A watch of backup 456's run `snapshot_id` in CHANNEL, started and due now."""
        async with self.db.session() as session:
            return await WatchRepository(session).add(
                team_id=TEAM,
                channel_id=CHANNEL,
                message_ts=message_ts,
                workspace_id=123,
                backup_id=456,
                backup_name="Nightly CRM",
                snapshot_id=snapshot_id,
                started_by="U0DANA",
                started_at=self.clock.now,
                next_poll_at=self.clock.now,
            )

    async def bind(self, channel: str = CHANNEL, workspace_id: int = 123) -> BindingRecord:
        async with self.db.session() as session:
            return await BindingRepository(session).upsert(
                team_id=TEAM,
                channel_id=channel,
                workspace_id=workspace_id,
                workspace_name="Operations",
                token_ciphertext=None,
                created_by="U0ADMIN",
                now=self.clock.now - timedelta(hours=1),
            )


@pytest.fixture
async def kit(db: Database, fake_slack: FakeSlack) -> AsyncIterator[Kit]:
    clock = Clock()
    metrics = Metrics()
    clients = SlackClients(
        base_url=fake_slack.api_url, metrics=metrics, bot_token=fake_slack.bot_token
    )
    batcher = WriteBatcher(db)
    pauses = ChannelPauses(db, clock=clock)
    notifier = Notifier(
        slack=clients,
        batcher=batcher,
        pauses=pauses,
        owner="worker:test:1:me",
        stale_after=STALE_AFTER,
        metrics=metrics,
        clock=clock,
    )
    sender = OutboxSender(
        notifier=notifier,
        db=db,
        batcher=batcher,
        owner="worker:test:1:me",
        pace=Pace(PaceConfig.parse("off")),
        metrics=metrics,
        clock=clock,
    )
    yield Kit(
        db,
        fake_slack,
        clients,
        batcher,
        notifier,
        SlackAnnouncer(notifier),
        metrics,
        clock,
        sender,
        pauses,
    )
    await sender.close()
    await batcher.close()
    await clients.aclose()


@pytest.fixture
async def skyvia(simulator: RunningSimulator) -> AsyncIterator[SkyviaClient]:
    async with httpx.AsyncClient() as http:
        yield SkyviaClient(http, simulator.base_url)


@pytest.fixture
def token_policy(db: Database, simulator: RunningSimulator) -> TokenPolicy:
    return TokenPolicy(
        db=db,
        cipher=TokenCipher(Fernet.generate_key().decode()),
        pauses=ChannelPauses(db),
        default_token=SecretStr(simulator.token),
    )


@pytest.fixture
def binding_service(
    db: Database, skyvia: SkyviaClient, token_policy: TokenPolicy
) -> BindingService:
    return BindingService(db=db, skyvia=skyvia, token_policy=token_policy)


@pytest.fixture
def alert_settings(db: Database, skyvia: SkyviaClient) -> AlertSettings:
    return AlertSettings(db=db, skyvia=skyvia)
