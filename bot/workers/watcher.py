"""The watcher: polls snapshots started from Slack and reports them in their threads.

Steps 4-5 of docs/reference/guarantees.md#a-snapshot-started-from-slack.

One tick:

1. claims a bounded batch of due watches under a lease (`FOR UPDATE SKIP LOCKED` on
   PostgreSQL), with their bindings, in one short transaction, and commits: no lock is held
   while Skyvia and Slack are called, and a second replica claims other watches;
2. handles the batch concurrently (bounded): one `GET .../snapshots/{id}` per watch, then
   - a state change: `chat.update` of the lifecycle card;
   - a final state: the threaded outcome reply through the ledger (broadcast when Failed or
     Canceled), then the card's final `chat.update`, then the watch is finished. The watch stays
     pending until the reply is recorded as sent, so a crash anywhere before that makes the
     next poll try again, and the ledger (see `bot.slack.notifier`) keeps it to one reply;
   - a long run: a "still running" note per 30 minutes (ledger kind `note:N`), and a note and
     the end of the watch at the give-up limit;
3. writes each result fenced by the lease (`reschedule`/`finish` are no-ops for a watch we lost
   or that `disconnect` stopped). The small writes of the batch go through one `WriteBatcher`,
   the results that reach it together as one executemany (`reschedule_many`, `finish_many`).

Skyvia errors back off per watch (`poll_errors`) and per workspace; a rejected token pauses the
binding and tells the channel once (`bot.workers.revocation`); a watch of a paused binding is
not polled but kept until the binding is resumed or the give-up limit is reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NoDefaultToken
from bot.skyvia.errors import SkyviaAuthError, SkyviaError, SkyviaRateLimited
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.messages import (
    gave_up_note,
    snapshot_card,
    snapshot_outcome_reply,
    still_running_note,
)
from bot.slack.notifier import DeliveryKey, DeliveryResult, Outcome
from bot.workers.backoff import retry_delay
from bot.workers.base import PollingWorker
from bot.workers.revocation import report_rejected_token
from storage.batching import BulkWrite
from storage.models import Binding, DeliveryKind, Watch, WatchOutcome, note_kind
from storage.repositories import BindingRepository, WatchRepository
from storage.repositories.watches import FinishedWatch, PollResult

log = logging.getLogger(__name__)

NOTE_EVERY = timedelta(minutes=30)
_BROADCAST = frozenset({SnapshotState.FAILED, SnapshotState.CANCELED})


def lease_for(interval: float) -> float:
    """How long a claim lasts: many intervals, at least 5 s, at most 5 min.

    It must outlast a tick's work on the batch (Skyvia retries, paced posts) and is how long a
    crashed process's work waits before another picks it up.
    """
    return min(300.0, max(5.0, 20 * interval))


@dataclass(frozen=True)
class WatcherConfig:
    interval: float
    give_up: float
    lease_seconds: float
    batch: int = 500
    concurrency: int = 64
    max_backoff: float = 600.0

    @classmethod
    def for_interval(cls, interval: float, give_up: float) -> WatcherConfig:
        return cls(interval=interval, give_up=give_up, lease_seconds=lease_for(interval))

    @property
    def paused_recheck(self) -> float:
        """How often a watch of a paused binding looks whether it was resumed."""
        return min(300.0, max(1.0, 10 * self.interval))


class Watcher(PollingWorker[WatcherConfig]):
    name = "watcher"

    def _setup(self) -> None:
        self._reschedules = BulkWrite[PollResult, None]("watch reschedules", self._write_polls)
        self._finishes = BulkWrite[FinishedWatch, None]("watch finishes", self._write_finishes)

    async def tick(self) -> bool:
        """Polls one batch of due watches; True if the batch was full (more may be due)."""
        now = self._clock()
        async with self._db.session() as session:
            watches = await WatchRepository(session).claim_due(
                self.owner, now, self.config.batch, self.config.lease_seconds
            )
            bindings = await BindingRepository(session).get_many(
                {(w.team_id, w.channel_id) for w in watches}
            )
            pending = await WatchRepository(session).count_pending()
        if self._metrics is not None:
            self._metrics.watches_pending.set(pending)
            lag = (now - watches[0].next_poll_at).total_seconds() if watches else 0.0
            self._metrics.poll_lag.labels(self.name).set(max(0.0, lag))
        if not watches:
            return False
        if len(watches) >= 50:
            log.info("watcher %s claimed %d watches", self.owner, len(watches))
        limit = asyncio.Semaphore(self.config.concurrency)

        async def guarded(watch: Watch) -> None:
            async with limit:
                await self._guarded(watch, bindings.get((watch.team_id, watch.channel_id)))

        await asyncio.gather(*(guarded(watch) for watch in watches))
        return len(watches) >= self.config.batch

    async def _guarded(self, watch: Watch, binding: Binding | None) -> None:
        try:
            await self._handle(watch, binding)
        except Exception:
            log.exception(
                "watch %s (snapshot %s) failed; retrying later", watch.id, watch.snapshot_id
            )
            try:
                await self._reschedule(
                    watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1
                )
            except Exception:
                log.exception("could not reschedule watch %s; its lease will expire", watch.id)

    async def _handle(self, watch: Watch, binding: Binding | None) -> None:
        now = self._clock()
        elapsed = (now - watch.started_at).total_seconds()
        if binding is None:
            log.info("watch %s: the channel has no binding any more; stopping", watch.id)
            await self._finish(watch, WatchOutcome.STOPPED)
            return
        if binding.workspace_id != watch.workspace_id:
            log.info("watch %s: the channel was re-bound to another workspace; stopping", watch.id)
            await self._finish(watch, WatchOutcome.STOPPED)
            return
        if binding.is_paused:
            if elapsed >= self.config.give_up:
                log.warning("watch %s gave up while its binding was paused", watch.id)
                await self._finish(watch, WatchOutcome.GAVE_UP)
            else:
                await self._reschedule(watch, now + timedelta(seconds=self.config.paused_recheck))
            return
        wait = self._backoff.remaining(watch.workspace_id)
        if wait > 0:
            await self._reschedule(watch, now + timedelta(seconds=wait))
            return
        try:
            token = self._bindings.token_of(binding)
        except NoDefaultToken:
            log.warning("watch %s: no token for its binding; will look again later", watch.id)
            await self._reschedule(watch, now + timedelta(seconds=self.config.paused_recheck))
            return
        try:
            snapshot = await self._skyvia.get_snapshot(
                token, watch.workspace_id, watch.backup_id, watch.snapshot_id
            )
        except SkyviaAuthError:
            await report_rejected_token(self._notifier, self._batcher, binding, now)
            await self._reschedule(watch, now + timedelta(seconds=self.config.paused_recheck))
            return
        except SkyviaError as exc:
            retry_after = exc.retry_after if isinstance(exc, SkyviaRateLimited) else None
            delay = self._backoff.failed(watch.workspace_id, retry_after)
            errors = watch.poll_errors + 1
            delay = max(delay, retry_delay(errors, base=self.interval, cap=self.config.max_backoff))
            log.warning(
                "watch %s: Skyvia %s; next poll in %.1fs", watch.id, type(exc).__name__, delay
            )
            await self._reschedule(watch, now + timedelta(seconds=delay), poll_errors=errors)
            return
        self._backoff.succeeded(watch.workspace_id)
        if not snapshot.state.is_known:
            log.warning("snapshot %s has an unknown state %r", snapshot.snapshot_id, snapshot.state)
        if snapshot.state.is_terminal:
            await self._report_final(watch, snapshot)
        else:
            await self._report_progress(watch, snapshot, elapsed)

    async def _report_final(self, watch: Watch, snapshot: Snapshot) -> None:
        state = snapshot.state
        key = self._key(watch, DeliveryKind.THREAD_REPLY)
        reply = snapshot_outcome_reply(
            watch.backup_id, watch.backup_name, snapshot, watch.started_by
        )
        result = await self._notifier.deliver(
            key, reply, thread_ts=watch.message_ts, broadcast=state in _BROADCAST
        )
        if result.outcome == Outcome.PAUSED:
            log.warning("watch %s: channel unusable, outcome %s not posted", watch.id, state)
            await self._finish(watch, WatchOutcome.STOPPED)
            return
        if not result.delivered:
            await self._retry_delivery(watch, result)
            return
        now = self._clock()
        card = snapshot_card(
            watch.backup_id,
            watch.backup_name,
            watch.snapshot_id,
            state,
            watch.started_by,
            watch.started_at,
            now,
            duration_s=snapshot.duration_seconds,
            rows=snapshot.success_rows,
            errors=snapshot.error_rows,
        )
        if not await self._notifier.update(watch.team_id, watch.channel_id, watch.message_ts, card):
            # The reply is in the ledger; the next poll only redoes the update and finishes.
            await self._reschedule(watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1)
            return
        await self._finish(watch, state.value, last_state=state.value)

    async def _report_progress(self, watch: Watch, snapshot: Snapshot, elapsed: float) -> None:
        state = snapshot.state
        now = self._clock()
        last_state: str | None = None
        if state.value != watch.last_state:
            card = snapshot_card(
                watch.backup_id,
                watch.backup_name,
                watch.snapshot_id,
                state,
                watch.started_by,
                watch.started_at,
                now,
            )
            if await self._notifier.update(watch.team_id, watch.channel_id, watch.message_ts, card):
                last_state = state.value
        if elapsed >= self.config.give_up:
            await self._give_up(watch)
            return
        last_note_at = await self._note_if_due(watch, now, elapsed)
        await self._reschedule(
            watch,
            now + timedelta(seconds=self.interval),
            last_state=last_state,
            last_note_at=last_note_at,
            poll_errors=0,
        )

    async def _note_if_due(self, watch: Watch, now: datetime, elapsed: float) -> datetime | None:
        """Posts the "still running" note of the current 30-minute period if not yet posted.

        The ledger kind names the period (`note:30`, `note:60`, ...), not the exact minute, so a
        retry after a crash asks for the same key. After a long outage only the latest period's
        note is posted, not every missed one.
        """
        periods = int(elapsed // NOTE_EVERY.total_seconds())
        if periods < 1:
            return None
        due_at = watch.started_at + periods * NOTE_EVERY
        if watch.last_note_at is not None and watch.last_note_at >= due_at:
            return None
        minutes = periods * int(NOTE_EVERY.total_seconds() // 60)
        result = await self._notifier.deliver(
            self._key(watch, note_kind(minutes)),
            still_running_note(minutes),
            thread_ts=watch.message_ts,
        )
        return now if result.delivered or result.outcome == Outcome.PAUSED else None

    async def _give_up(self, watch: Watch) -> None:
        result = await self._notifier.deliver(
            self._key(watch, DeliveryKind.GAVE_UP),
            gave_up_note(self.config.give_up / 3600, watch.backup_id),
            thread_ts=watch.message_ts,
        )
        if result.delivered or result.outcome == Outcome.PAUSED:
            log.info("watch %s gave up after %.0fs", watch.id, self.config.give_up)
            await self._finish(watch, WatchOutcome.GAVE_UP)
        else:
            await self._retry_delivery(watch, result)

    async def _retry_delivery(self, watch: Watch, result: DeliveryResult) -> None:
        """Keeps the watch pending until its message is delivered (see `bot.slack.notifier`)."""
        now = self._clock()
        if result.outcome == Outcome.FAILED:
            await self._reschedule(watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1)
        elif result.outcome == Outcome.UNKNOWN:
            stale = self._notifier.stale_after.total_seconds()
            await self._reschedule(watch, now + timedelta(seconds=stale))
        else:  # BUSY or DEFERRED: someone else has it, or the channel's pace is full
            await self._reschedule(watch, now + timedelta(seconds=self.interval))

    # Writes, fenced by the lease

    def _retry_at(self, watch: Watch) -> datetime:
        delay = retry_delay(watch.poll_errors + 1, base=self.interval, cap=self.config.max_backoff)
        return self._clock() + timedelta(seconds=delay)

    async def _reschedule(
        self,
        watch: Watch,
        next_poll_at: datetime,
        *,
        last_state: str | None = None,
        last_note_at: datetime | None = None,
        poll_errors: int | None = None,
    ) -> None:
        await self._batcher.run_bulk(
            self._reschedules,
            PollResult(watch.id, next_poll_at, last_state, last_note_at, poll_errors),
        )

    async def _finish(self, watch: Watch, outcome: str, *, last_state: str | None = None) -> None:
        now = self._clock()
        log.info(
            "watch %s of snapshot %s finished: %s",
            watch.id,
            watch.snapshot_id,
            outcome,
            extra={"team": watch.team_id, "channel": watch.channel_id},
        )
        await self._batcher.run_bulk(
            self._finishes, FinishedWatch(watch.id, outcome, now, last_state)
        )

    async def _write_polls(self, session: AsyncSession, polls: Sequence[PollResult]) -> list[None]:
        await WatchRepository(session).reschedule_many(self.owner, polls)
        return [None] * len(polls)

    async def _write_finishes(
        self, session: AsyncSession, finished: Sequence[FinishedWatch]
    ) -> list[None]:
        await WatchRepository(session).finish_many(self.owner, finished)
        return [None] * len(finished)

    def _key(self, watch: Watch, kind: str) -> DeliveryKey:
        return DeliveryKey(watch.team_id, watch.channel_id, watch.snapshot_id, kind)
