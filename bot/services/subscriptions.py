"""Personal subscriptions: a person gets a channel's failures and recoveries of some backups (or
all) by DM, exactly once per (person, snapshot, kind).

`Subscriptions` is the commands' side (subscribe, unsubscribe, list, forget who left).
`PersonalNotices` is the alert scanner's: it owes the DMs through the `Announcer` (the outbox,
keyed by the person as the "channel", the snapshot and `dm_failed`/`dm_recovered`), *before*
the channel's own alert or recovery, so a scan cut short after the alert still owes the DM on
the re-read (the ledger makes the second owing a no-op) and never loses it.

A person hears what the channel hears: failures of the backups it is not muting, after it was
connected, while its alerts are on (the scanner's listeners); a watched run's failure too, which
the channel hears in the run's thread. Someone subscribed in two channels of one workspace gets
one DM per snapshot. Leaving the channel (`member_left_channel`) or the Slack workspace (a
deactivated user) ends their subscriptions (`forget`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services.announcements import Announcer, Channel, PersonalFailure, PersonalRecovery
from bot.services.audit import Actor, Entry, record_in
from bot.services.bindings import BoundWorkspace
from bot.services.errors import NotBound
from bot.skyvia.models import Snapshot
from storage.batching import BulkWrite, WriteBatcher
from storage.db import Database
from storage.records import BindingRecord, CursorRecord
from storage.repositories import ALL_BACKUPS as ALL_BACKUPS  # what handlers and messages say
from storage.repositories import (
    BindingRepository,
    DeliveryLedger,
    Episode,
    SubscriptionRepository,
)

log = logging.getLogger(__name__)

DM_FAILED = "dm_failed"
"""Ledger kind of a failure's DM (its "channel" is the person's user id)."""
DM_RECOVERED = "dm_recovered"
"""Ledger kind of a recovery's DM, keyed by the success that ended the episode."""


class Subscriptions:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def subscribe(self, bound: BoundWorkspace, user_id: str, backup_id: int | None) -> bool:
        """Follows one backup (or all: None) of the channel's workspace; False if already."""
        async with self._db.session() as session:
            binding = await _binding(session, bound)
            added = await SubscriptionRepository(session).add(
                binding, user_id, ALL_BACKUPS if backup_id is None else backup_id, self._clock()
            )
            await record_in(
                session,
                Actor(bound.team_id, bound.channel_id, user_id),
                Entry("subscribe", _target(backup_id), "ok" if added else "unchanged"),
            )
        return added

    async def unsubscribe(self, bound: BoundWorkspace, user_id: str, backup_id: int | None) -> int:
        """Stops one backup's DMs (or every one: None); how many subscriptions went."""
        async with self._db.session() as session:
            binding = await _binding(session, bound)
            gone = await SubscriptionRepository(session).remove(binding.id, user_id, backup_id)
            await record_in(
                session,
                Actor(bound.team_id, bound.channel_id, user_id),
                Entry("unsubscribe", _target(backup_id), "ok" if gone else "unchanged"),
            )
        return gone

    async def of_user(self, bound: BoundWorkspace, user_id: str) -> list[int]:
        """The backups a person follows in this channel; `ALL_BACKUPS` (0) for all."""
        async with self._db.session() as session:
            binding = await _binding(session, bound)
            return await SubscriptionRepository(session).of_user(binding, user_id)

    async def in_team(self, team_id: str, user_id: str) -> list[tuple[str, int]]:
        """(channel, backup) of everything a person follows in a Slack team (the App Home)."""
        async with self._db.session() as session:
            return await SubscriptionRepository(session).of_user_in_team(team_id, user_id)

    async def forget(self, team_id: str, user_id: str, channel_id: str | None = None) -> int:
        """A person left the channel (or, without one, the Slack workspace): no more DMs."""
        async with self._db.session() as session:
            channels = None if channel_id is None else [channel_id]
            gone = await SubscriptionRepository(session).forget(team_id, user_id, channels)
        if gone:
            log.info("%s subscription(s) of %s ended: they left", gone, user_id)
        return gone


async def _binding(session: AsyncSession, bound: BoundWorkspace) -> BindingRecord:
    binding = await BindingRepository(session).get(bound.team_id, bound.channel_id)
    if binding is None:
        raise NotBound()
    return binding


def _target(backup_id: int | None) -> str:
    return "all backups" if backup_id is None else f"backup {backup_id}"


class PersonalNotices:
    """Owes the subscribers' DMs for the alert scanner (see module docstring)."""

    def __init__(self, *, announcer: Announcer, batcher: WriteBatcher) -> None:
        self._announcer = announcer
        self._batcher = batcher

    async def failures(
        self,
        cursor: CursorRecord,
        failures: Sequence[Snapshot],
        hearing: Callable[[Snapshot], Sequence[BindingRecord]],
    ) -> None:
        """One DM per failed snapshot to each subscriber of a channel that hears it.

        Raises when the outbox cannot be written: the scan then keeps its cursor and reads
        the failures again, so no DM is lost.
        """
        if not failures:
            return
        owed: dict[tuple[str, str, int], PersonalFailure] = {}
        bindings = {b.id: b for s in failures for b in hearing(s)}
        subscribers = await self._subscribers(list(bindings.values()))
        for snapshot in failures:
            for binding in hearing(snapshot):
                for user_id, backup in subscribers.get(binding.id, []):
                    if backup in (ALL_BACKUPS, cursor.backup_id):
                        key = (binding.team_id, user_id, snapshot.snapshot_id)
                        news = owed.setdefault(
                            key,
                            PersonalFailure(
                                binding.channel_id, cursor.backup_id, cursor.backup_name, snapshot
                            ),
                        )
                        if backup == ALL_BACKUPS and news.channel_id == binding.channel_id:
                            owed[key] = replace(news, by_all=True)
        if not owed:
            return
        ids = list({key[2] for key in owed})
        done = await self._batcher.run(lambda s: DeliveryLedger(s).owed_keys(ids, DM_FAILED))
        await asyncio.gather(
            *(
                self._announcer.owe(news, Channel(team, user))
                for (team, user, snapshot_id), news in owed.items()
                if (team, user, snapshot_id) not in done
            )
        )

    async def recovered(
        self, cursor: CursorRecord, ended: Sequence[tuple[BindingRecord, Episode]]
    ) -> None:
        """One DM per recovery to each subscriber of a channel whose episode it closed; owed
        before the episodes are closed, so a crash owes it again (once, by its key)."""
        if not ended:
            return
        subscribers = await self._subscribers([b for b, _ in ended])
        owed: dict[tuple[str, str, int], PersonalRecovery] = {}
        for binding, episode in ended:
            if episode.recovered_snapshot_id is None:
                continue
            for user_id, backup in subscribers.get(binding.id, []):
                if backup in (ALL_BACKUPS, cursor.backup_id):
                    key = (binding.team_id, user_id, episode.recovered_snapshot_id)
                    news = owed.setdefault(key, _recovery(binding.channel_id, cursor, episode))
                    if backup == ALL_BACKUPS and news.channel_id == binding.channel_id:
                        owed[key] = replace(news, by_all=True)
        await asyncio.gather(
            *(
                self._announcer.owe(news, Channel(team, user))
                for (team, user, _), news in owed.items()
            )
        )

    async def _subscribers(
        self, bindings: Sequence[BindingRecord]
    ) -> dict[int, list[tuple[str, int]]]:
        return await self._batcher.run_bulk(_SUBSCRIBERS, tuple(bindings))


async def _subscribers_of(
    session: AsyncSession, items: Sequence[tuple[BindingRecord, ...]]
) -> list[dict[int, list[tuple[str, int]]]]:
    """(user, backup) subscriptions by binding id, for each set of bindings: one query for
    every scan of a write batch (a wave's scans ask at once) rather than one per scan."""
    bindings = {b.id: b for item in items for b in item}
    found = await SubscriptionRepository(session).for_bindings(list(bindings.values()))
    by_binding = {
        binding_id: [(s.user_id, s.backup_id) for s in subs] for binding_id, subs in found.items()
    }
    return [{b.id: by_binding[b.id] for b in item if b.id in by_binding} for item in items]


_SUBSCRIBERS = BulkWrite[tuple[BindingRecord, ...], dict[int, list[tuple[str, int]]]](
    "subscribers of bindings", _subscribers_of
)


def _recovery(channel_id: str, cursor: CursorRecord, episode: Episode) -> PersonalRecovery:
    """The DM's news of an episode a success closed (`recovered` skips the others)."""
    assert episode.recovered_snapshot_id is not None
    return PersonalRecovery(
        channel_id,
        cursor.backup_id,
        cursor.backup_name,
        episode.recovered_snapshot_id,
        episode.failures,
        episode.failing_for,
    )
