"""Repositories: the queries each entity needs, over a session whose transaction the caller owns.

Use one `Database.session()` per request or worker tick and build repositories on it::

    async with db.session() as session:
        binding = await BindingRepository(session).get(team_id, channel_id)
"""

from storage.repositories._leases import new_lease_owner
from storage.repositories.alert_cursors import AlertCursorRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.bindings import BindingRepository
from storage.repositories.clicks import ClickRepository, click_key
from storage.repositories.deliveries import DeliveryLedger
from storage.repositories.episodes import Episode, EpisodeRepository
from storage.repositories.staleness import AUTO, StalenessRepository, StaleSetting
from storage.repositories.steps import StepExecutionRepository
from storage.repositories.subscriptions import ALL_BACKUPS, Subscriber, SubscriptionRepository
from storage.repositories.takers import AlertRef, TakerRepository, Takes
from storage.repositories.timers import TimerRepository
from storage.repositories.watches import WatchRepository
from storage.repositories.worker_leases import WorkerLeaseRepository

__all__ = [
    "ALL_BACKUPS",
    "AUTO",
    "AlertCursorRepository",
    "AlertRef",
    "AuditRepository",
    "BindingRepository",
    "ClickRepository",
    "DeliveryLedger",
    "Episode",
    "EpisodeRepository",
    "StaleSetting",
    "StalenessRepository",
    "StepExecutionRepository",
    "Subscriber",
    "SubscriptionRepository",
    "TakerRepository",
    "Takes",
    "TimerRepository",
    "WatchRepository",
    "WorkerLeaseRepository",
    "click_key",
    "new_lease_owner",
]
