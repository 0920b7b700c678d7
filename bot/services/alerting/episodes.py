"""Failure episodes: a backup that keeps failing is one alert and a thread, not a flood.

The first failure of a backup opens an episode in each listening channel: that is the failure
alert. A further failure while it is open is a reply in the alert's thread, and the alert's
first line is edited to the streak. The first success after it closes the episode: a
"Recovered" reply and the header edited to "recovered".

Each step is written to the episode (`storage.repositories.episodes`) *before* it is announced
and every announcement goes through the delivery ledger under its own key (the reply and the
header edit of a failure, the recovery reply and its header edit of a success), so a scan cut
short anywhere is finished by the next one with nothing said twice: the failure is re-read
(the cursor waits for it), and a recovery that is recorded but not yet closed is announced
again without asking Skyvia.

Seeing a recovery needs successful runs, which the failure listing leaves out: while an episode
of some listening channel waits for its success, the scan's listing asks for every state
instead of failures only, so a recovery costs no extra Skyvia call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.alerting.failure_listing import ended_at
from bot.services.announcements import (
    Announcer,
    Channel,
    FailureContinued,
    FailureSeen,
    Outcome,
    Recovered,
)
from bot.services.subscriptions import PersonalNotices
from bot.skyvia.models import Snapshot, SnapshotState
from storage.batching import WriteBatcher
from storage.models import Delivery, DeliveryKind, DeliveryStatus
from storage.records import BindingRecord, CursorRecord
from storage.repositories import (
    DeliveryLedger,
    Episode,
    EpisodeRepository,
    TakerRepository,
    WatchRepository,
)
from storage.repositories.deliveries import LedgerKey

log = logging.getLogger(__name__)


@dataclass
class Tracked:
    """The open episodes of one backup's listening bindings, by binding id, during a scan."""

    open: dict[int, Episode] = field(default_factory=dict)


class EpisodeTracker:
    def __init__(
        self,
        *,
        announcer: Announcer,
        batcher: WriteBatcher,
        clock: Callable[[], datetime],
        personal: PersonalNotices | None = None,
    ) -> None:
        self._announcer = announcer
        self._batcher = batcher
        self._clock = clock
        self._personal = personal

    async def failed(
        self,
        cursor: CursorRecord,
        snapshot: Snapshot,
        channels: Sequence[BindingRecord],
        tracked: Tracked,
        *,
        watching: Sequence[BindingRecord] = (),
    ) -> list[Outcome]:
        """Counts the failure in each channel's episode and tells each channel once.

        The channels whose episode it opens get the failure alert; the others a reply in
        their alert's thread and a header edit. A reply whose alert is not out yet waits
        (`BUSY`): the cursor stays, and the next scan tries again. The `watching` channels
        watch the snapshot: it is told in its card's thread (`bot.services.watching`), so here
        it is only counted, as `health` counts it (an episode it opens has no alert: the next
        failure becomes its alert, see `_alert_threads`).
        """
        end = ended_at(snapshot) or self._now()
        ids = [b.id for b in (*channels, *watching)]
        episodes = await self._batcher.run(
            lambda s: EpisodeRepository(s).record_failure(
                ids, cursor.backup_id, snapshot.snapshot_id, end
            )
        )
        tracked.open.update(episodes)
        opening, further, threads = await self._split(cursor, snapshot, channels, episodes, tracked)
        outcomes: list[Outcome] = []
        if opening:
            outcomes += await self._announcer.owe_all(
                FailureSeen(cursor.backup_id, cursor.backup_name, snapshot),
                [Channel(b.team_id, b.channel_id, b.mention_ids) for b in opening],
            )
        if further:
            jobs = [
                self._reply(b, threads.get(b.id), cursor, snapshot, episodes[b.id]) for b in further
            ]
            outcomes += await asyncio.gather(*jobs)
        return outcomes

    async def _split(
        self,
        cursor: CursorRecord,
        snapshot: Snapshot,
        channels: Sequence[BindingRecord],
        episodes: dict[int, Episode],
        tracked: Tracked,
    ) -> tuple[list[BindingRecord], list[BindingRecord], dict[int, str]]:
        """The channels this failure opens an episode in, those it continues one in, and the
        alert thread of each continued one (an episode whose alert never went out restarts)."""
        opening = [
            b
            for b in channels
            if (e := episodes.get(b.id)) and e.first_snapshot_id == snapshot.snapshot_id
        ]
        further = [
            b
            for b in channels
            if (e := episodes.get(b.id)) and e.first_snapshot_id != snapshot.snapshot_id
        ]
        threads: dict[int, str] = {}
        if further:
            threads, orphans = await self._alert_threads(further, episodes, cursor.cursor)
            if orphans:  # their first alert never went out: this failure is their alert
                restarted = await self._batcher.run(
                    lambda s: EpisodeRepository(s).restart(
                        orphans, cursor.backup_id, snapshot.snapshot_id
                    )
                )
                episodes.update(restarted)
                tracked.open.update(restarted)
                opening += [b for b in further if b.id in orphans]
                further = [b for b in further if b.id not in orphans]
        return opening, further, threads

    async def _reply(
        self,
        binding: BindingRecord,
        thread: str | None,
        cursor: CursorRecord,
        snapshot: Snapshot,
        episode: Episode,
    ) -> Outcome:
        if thread is None:
            return Outcome.BUSY
        try:
            takers = await self._batcher.run(  # the streak's header keeps who is on it
                lambda s: TakerRepository(s).on_alert(binding.team_id, binding.channel_id, thread)
            )
            further = FailureContinued(
                thread,
                cursor.backup_id,
                cursor.backup_name,
                snapshot,
                episode.failures,
                episode.since,
                episode.first_snapshot_id,
                takers,
            )
            return await self._announcer.owe(
                further, Channel(binding.team_id, binding.channel_id, binding.mention_ids)
            )
        except Exception:
            log.exception("episode reply for snapshot %s failed", snapshot.snapshot_id)
            return Outcome.FAILED

    @staticmethod
    def needs_runs(tracked: Tracked) -> bool:
        """Whether an open episode waits for its success (then the scan lists every state)."""
        return any(not e.recovering for e in tracked.open.values())

    async def recoveries(
        self,
        cursor: CursorRecord,
        channels: Sequence[BindingRecord],
        tracked: Tracked,
        runs: Sequence[Snapshot] | None,
    ) -> None:
        """Closes the open episodes of this backup that a success ended (see module docstring).

        `runs` are the scan's runs of every state when it listed them (None when it listed
        failures only): a recovery already recorded is announced either way.
        """
        if not tracked.open:
            return
        waiting = [e for e in tracked.open.values() if not e.recovering]
        if waiting and runs is not None:
            success = _first_success(runs, waiting)
            if success is not None:
                tracked.open = await self._mark(cursor, waiting, success, tracked)
        by_id = {b.id: b for b in channels}
        recovering = [e for e in tracked.open.values() if e.recovering and e.binding_id in by_id]
        if not recovering:
            return
        if self._personal is not None:  # before the close, so a crash owes them again
            await self._personal.recovered(cursor, [(by_id[e.binding_id], e) for e in recovering])
        threads, orphans = await self._alert_threads(
            [by_id[e.binding_id] for e in recovering],
            {e.binding_id: e for e in recovering},
            cursor.cursor,
        )
        outcomes = await asyncio.gather(
            *(
                self._recovered(
                    by_id[e.binding_id],
                    threads.get(e.binding_id),
                    cursor,
                    e,
                    orphan=e.binding_id in orphans,
                )
                for e in recovering
            )
        )
        done = [e for e, o in zip(recovering, outcomes, strict=True) if o.settled]
        if done:
            now = self._now()
            await self._batcher.run(lambda s: _close_all(s, done, now))

    async def _recovered(
        self,
        binding: BindingRecord,
        thread: str | None,
        cursor: CursorRecord,
        episode: Episode,
        *,
        orphan: bool,
    ) -> Outcome:
        if thread is None:
            # Its alert never went out: nothing to reply to. Still in the outbox: wait for it.
            return Outcome.PAUSED if orphan else Outcome.BUSY
        snapshot_id, failing_for = episode.recovered_snapshot_id, episode.failing_for
        assert snapshot_id is not None and failing_for is not None
        recovered = Recovered(
            thread, cursor.backup_id, cursor.backup_name, snapshot_id, episode.failures, failing_for
        )
        try:
            return await self._announcer.owe(
                recovered, Channel(binding.team_id, binding.channel_id)
            )
        except Exception:
            log.exception("recovery note of backup %s failed", cursor.backup_id)
            return Outcome.FAILED

    async def _mark(
        self, cursor: CursorRecord, waiting: list[Episode], success: Snapshot, tracked: Tracked
    ) -> dict[int, Episode]:
        end = ended_at(success) or self._now()
        ended = [e for e in waiting if end > e.last_failed_at]

        async def mark(session: AsyncSession) -> None:
            repo = EpisodeRepository(session)
            for e in ended:
                await repo.mark_recovered(e.binding_id, cursor.backup_id, success.snapshot_id, end)

        await self._batcher.run(mark)
        updated = dict(tracked.open)
        for e in ended:
            updated[e.binding_id] = _recovered_copy(e, success.snapshot_id, end)
        return updated

    async def _alert_threads(
        self, bindings: Sequence[BindingRecord], episodes: dict[int, Episode], scanned_to: datetime
    ) -> tuple[dict[int, str], set[int]]:
        """The `ts` of each binding's episode alert (sent ones, from the ledger), and the
        bindings whose alert will never come: given up, or never claimed though the scan is
        past its failure (a watched run's, reported in its own card thread instead).

        An alert that is only late (claimed, refused for now, held back by the channel's pace
        while its failure is still re-read) is neither: its replies wait for it.
        """
        keys = {
            b.id: (b.team_id, b.channel_id, episodes[b.id].first_snapshot_id, DeliveryKind.ALERT)
            for b in bindings
        }

        async def read(
            session: AsyncSession,
        ) -> tuple[dict[LedgerKey, Delivery], set[tuple[str, str, int]]]:
            rows = await DeliveryLedger(session).get_many(set(keys.values()))
            first_ids = {key[2] for key in keys.values()}
            return rows, await WatchRepository(session).watched_snapshots(first_ids)

        rows, watched = await self._batcher.run(read)
        threads: dict[int, str] = {}
        orphans: set[int] = set()
        for binding_id, key in keys.items():
            row = rows.get(key)
            if row is not None and row.status == DeliveryStatus.SENT and row.message_ts:
                threads[binding_id] = row.message_ts
            elif (row is not None and row.status == DeliveryStatus.GAVE_UP) or (
                row is None and (episodes[binding_id].since < scanned_to or key[:3] in watched)
            ):
                orphans.add(binding_id)
        return threads, orphans

    def _now(self) -> datetime:
        return self._clock()


def _first_success(runs: Sequence[Snapshot], waiting: list[Episode]) -> Snapshot | None:
    """The earliest success that ended after the last failure any waiting episode counted."""
    after = min(e.last_failed_at for e in waiting)
    successes = [
        s
        for s in runs
        if s.state == SnapshotState.SUCCEEDED and (end := ended_at(s)) is not None and end > after
    ]
    return min(successes, key=lambda s: ended_at(s) or after, default=None)


def _recovered_copy(episode: Episode, snapshot_id: int, at: datetime) -> Episode:
    return replace(episode, recovered_snapshot_id=snapshot_id, recovered_at=at)


async def _close_all(session: AsyncSession, episodes: list[Episode], now: datetime) -> None:
    repo = EpisodeRepository(session)
    for e in episodes:
        await repo.close(e.binding_id, e.backup_id, now)
