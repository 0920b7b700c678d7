"""Watching: polls snapshots started from Slack and reports them in their threads.

Steps 4-5 of docs/reference/guarantees.md#a-snapshot-started-from-slack.

`lease_due` claims a bounded batch of due watches under a lease (`FOR UPDATE SKIP LOCKED` on
PostgreSQL), with their bindings, in one short transaction, and commits: no lock is held while
Skyvia is called, and a second replica claims other watches. `poll` then handles the batch
concurrently (bounded): one `GET .../snapshots/{id}` per watch, then

- no card yet (the request that started the run did not see its post land): the card is owed
  under the key the request claimed (`_settle_card`), and the watch waits until the outbox has
  sent it (a later poll reads its `ts` from the ledger) before anything else;
- a state change: the lifecycle card's redraw is owed (edits of one card coalesce);
- a final state: the outcome reply in the thread is owed (the `Announcer` writes it into the
  outbox, once), then the card's final redraw, then the watch is finished. The watch stays
  pending until the reply is owed, so a crash anywhere before that makes the next poll owe it
  again, which the ledger keeps to one reply. Nothing here waits for Slack: the outbox's
  senders post at Slack's pace (`bot.slack.delivery.senders`);
- a long run: a "still running" note per 30 minutes, and a note and the end of the watch at the
  give-up limit.

Each result is written fenced by the lease (`reschedule`/`finish` are no-ops for a watch we lost
or that `disconnect` stopped); the small writes of a batch go through one `WriteBatcher`, the
results that reach it together as one executemany (`reschedule_many`, `finish_many`).

Skyvia errors: 429/5xx/timeouts hold the workspace (`bot.services.backoff`: one probe per
interval, the first success ends it); a 404 or another 4xx that will not heal is the watch's own
and ends it, with a note in the thread and a final card; a rejected token pauses the binding and
tells the channel once, and a token that does not decrypt pauses it too
(`bot.services.alerting.token_checks`); a watch of a paused binding is not polled but kept until the
binding is resumed or the give-up limit is reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.logging_setup import set_log_context
from bot.services.announcements import (
    CardChanged,
    CardOwed,
    CardVanished,
    Channel,
    News,
    Outcome,
    RunFinished,
    RunVanished,
    StepEnd,
    StepEnded,
    StepFinished,
    StillRunning,
    WatchGaveUp,
)
from bot.services.backoff import next_due, retry_delay
from bot.services.leasing import LeasedService, lease_for
from bot.services.models import WatchedRun
from bot.skyvia.errors import (
    SkyviaAuthError,
    SkyviaError,
    SkyviaRateLimited,
    SkyviaUnavailable,
    will_not_heal,
)
from bot.skyvia.models import Snapshot
from storage.batching import BulkWrite
from storage.models import Watch, WatchOutcome
from storage.records import BindingRecord
from storage.repositories import BindingRepository, WatchRepository
from storage.repositories.watches import FinishedWatch, PollResult

log = logging.getLogger(__name__)

NOTE_EVERY = timedelta(minutes=30)
LAG_LABEL = "watcher"
"""The `poll_lag` metric's label for watches (the worker's name, which dashboards use)."""


@dataclass(frozen=True)
class WatchingConfig:
    interval: float
    give_up: float
    lease_seconds: float
    batch: int = 500
    concurrency: int = 64
    max_backoff: float = 600.0
    step_limit: float = 3600.0
    """Seconds a Workflow Builder step waits for its run; past it the step is completed with
    an error that links the card, and the run is still watched to its end."""

    @classmethod
    def for_interval(cls, interval: float, give_up: float) -> WatchingConfig:
        return cls(interval=interval, give_up=give_up, lease_seconds=lease_for(interval))

    @property
    def paused_recheck(self) -> float:
        """How often a watch of a paused binding looks whether it was resumed."""
        return min(300.0, max(1.0, 10 * self.interval))


@dataclass(frozen=True)
class LeasedWatches:
    """A batch of due watches this process now holds, with their channels' bindings."""

    watches: Sequence[Watch]
    bindings: dict[tuple[str, str], BindingRecord]
    full: bool
    """The batch was full: more may be due right now."""


class WatchingService(LeasedService[WatchingConfig]):
    def _setup(self) -> None:
        self._reschedules = BulkWrite[PollResult, None]("watch reschedules", self._write_polls)
        self._finishes = BulkWrite[FinishedWatch, None]("watch finishes", self._write_finishes)

    async def lease_due(self) -> LeasedWatches:
        """Claims a batch of due watches for this process (see module docstring)."""
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
            self._metrics.poll_lag.labels(LAG_LABEL).set(max(0.0, lag))
        if len(watches) >= 50:
            log.info("watcher %s claimed %d watches", self.owner, len(watches))
        return LeasedWatches(watches, bindings, full=len(watches) >= self.config.batch)

    async def poll(self, leased: LeasedWatches) -> None:
        """Polls every watch of the batch, at most `concurrency` Skyvia calls at once.

        Only the call is bounded: what a finished run owes (its reply, its card, the watch's
        end) is written by every watch of the batch together, a few write batches in all, where
        bounding the whole handling let only `concurrency` watches into each batch (5,000 runs
        ending at once waited for ~80 rounds of three writes each)."""
        limit = asyncio.Semaphore(self.config.concurrency)

        async def guarded(watch: Watch) -> None:
            set_log_context(  # gather runs each watch in its own task: these ids stay there
                team=watch.team_id,
                channel=watch.channel_id,
                workspace=watch.workspace_id,
                backup=watch.backup_id,
                snapshot=watch.snapshot_id,
            )
            await self._guarded(
                watch, leased.bindings.get((watch.team_id, watch.channel_id)), limit
            )

        await asyncio.gather(*(guarded(watch) for watch in leased.watches))

    async def _guarded(
        self, watch: Watch, binding: BindingRecord | None, limit: asyncio.Semaphore
    ) -> None:
        try:
            await self._handle(watch, binding, limit)
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

    async def _handle(
        self, watch: Watch, binding: BindingRecord | None, limit: asyncio.Semaphore
    ) -> None:
        now = self._clock()
        if binding is None:
            log.info("watch %s: the channel has no binding any more; stopping", watch.id)
            await self._stop(watch)
            return
        if binding.workspace_id != watch.workspace_id:
            log.info("watch %s: the channel was re-bound to another workspace; stopping", watch.id)
            await self._stop(watch)
            return
        if binding.is_paused:
            if (now - watch.started_at).total_seconds() >= self.config.give_up:
                log.warning("watch %s gave up while its binding was paused", watch.id)
                await self._finish(watch, WatchOutcome.GAVE_UP)
            else:
                await self._reschedule(watch, now + timedelta(seconds=self.config.paused_recheck))
            return
        wait = self._backoff.remaining(watch.workspace_id)
        if wait > 0:
            await self._reschedule(watch, now + timedelta(seconds=wait))
            return
        snapshot = await self._fetch(watch, binding, now, limit)
        if snapshot is None:
            return
        self._backoff.succeeded(watch.workspace_id)
        if watch.message_ts is None and not await self._settle_card(watch, snapshot):
            return
        if not snapshot.state.is_known:
            log.warning("snapshot %s has an unknown state %r", snapshot.snapshot_id, snapshot.state)
        if snapshot.state.is_terminal:
            await self._report_final(watch, snapshot)
        else:
            await self._report_progress(watch, snapshot, (now - watch.started_at).total_seconds())

    async def _fetch(
        self, watch: Watch, binding: BindingRecord, now: datetime, limit: asyncio.Semaphore
    ) -> Snapshot | None:
        """The snapshot as Skyvia has it now; None when the watch was rescheduled or ended."""
        token = await self._tokens.usable_token(binding, now)
        if token is None:
            log.warning(
                "watch %s: no usable token for its binding; will look again later", watch.id
            )
            await self._reschedule(watch, now + timedelta(seconds=self.config.paused_recheck))
            return None
        try:
            async with limit:
                return await self._skyvia.get_snapshot(
                    token, watch.workspace_id, watch.backup_id, watch.snapshot_id
                )
        except SkyviaAuthError:
            await self._tokens.report_rejected(binding, now)
            await self._reschedule(watch, now + timedelta(seconds=self.config.paused_recheck))
        except (SkyviaUnavailable, SkyviaRateLimited) as exc:
            # The workspace's trouble, not this watch's: the workspace is held (one probe per
            # interval) and the watch comes back when it may be polled again.
            retry_after = exc.retry_after if isinstance(exc, SkyviaRateLimited) else None
            delay = self._backoff.failed(watch.workspace_id, retry_after)
            log.warning(
                "watch %s: Skyvia %s; next poll in %.1fs", watch.id, type(exc).__name__, delay
            )
            await self._reschedule(
                watch, now + timedelta(seconds=delay), poll_errors=watch.poll_errors + 1
            )
        except SkyviaError as exc:
            if will_not_heal(exc):
                await self._vanished(watch, exc)
            else:  # an odd answer for this snapshot alone: it waits, the workspace does not
                log.warning("watch %s: %s; retrying later", watch.id, exc)
                await self._reschedule(
                    watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1
                )
        return None

    async def _vanished(self, watch: Watch, exc: SkyviaError) -> None:
        """Skyvia no longer knows the snapshot: a note in its thread, a final card, the end.

        The note goes through the ledger (once); the watch stays pending until both are done,
        and the retry meets the same refusal and finds the note already sent.
        """
        log.warning("watch %s: %s; the snapshot is gone, ending the watch", watch.id, exc)
        run = WatchedRun.of(watch)
        outcome = await self._tell(run, RunVanished(run))
        if outcome.settled and run.step is not None:
            why = StepEnd.STOPPED if outcome == Outcome.PAUSED else StepEnd.VANISHED
            ended = await self._tell(run, StepEnded(run, why))
            outcome = outcome if ended.settled else ended
        if outcome == Outcome.PAUSED:
            await self._finish(watch, WatchOutcome.STOPPED)
        elif not outcome.settled:
            await self._retry_delivery(watch, outcome)
        elif not (await self._tell(run, CardVanished(run))).settled:
            await self._reschedule(watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1)
        else:
            await self._finish(watch, WatchOutcome.VANISHED)

    async def _settle_card(self, watch: Watch, snapshot: Snapshot) -> bool:
        """The card of a watch the starting request did not see land; True to go on polling.

        The card goes through the ledger under the key the request claimed: a claim it kept
        (no answer) is read back by its metadata once stale, a claim it released (refused) is
        posted anew, so there is one card either way. A run that ended while its card kept
        given up (Slack refuses it for good, or too often) goes on without one: its outcome
        is posted in the channel instead, saying so, rather than never.
        """
        run = WatchedRun.of(watch)
        card = CardOwed(run, snapshot, self._clock())
        outcome, ts = await self._announcer.owe_with_ts(card, _channel_of(run))
        if outcome.delivered and ts is not None:
            await self._batcher.run(
                lambda session: WatchRepository(session).set_card(
                    watch.team_id, watch.channel_id, watch.snapshot_id, ts
                )
            )
            watch.message_ts = ts
            return True
        if outcome == Outcome.PAUSED:
            log.warning(
                "watch %s: channel unusable, card of %s not posted", watch.id, run.snapshot_id
            )
            await self._stop(watch)
            return False
        if outcome == Outcome.GAVE_UP:
            log.warning(
                "watch %s: the card can never be posted; the outcome goes without", watch.id
            )
            return True
        await self._retry_delivery(watch, outcome)
        return False

    async def _report_final(self, watch: Watch, snapshot: Snapshot) -> None:
        state = snapshot.state
        run = WatchedRun.of(watch)
        outcome = await self._tell(
            run, RunFinished(run, snapshot, without_card=run.message_ts is None)
        )
        if outcome == Outcome.PAUSED:
            log.warning("watch %s: channel unusable, outcome %s not posted", watch.id, state)
            await self._stop(watch)
            return
        if not outcome.settled:
            await self._retry_delivery(watch, outcome)
            return
        if outcome == Outcome.GAVE_UP:  # Slack will never take it: the card still shows the end
            log.warning("watch %s: outcome %s could never be posted", watch.id, state)
        if run.step is not None:
            step = await self._tell(run, StepFinished(run, snapshot))
            if not step.settled:
                await self._retry_delivery(watch, step)
                return
        if not (await self._tell(run, CardChanged(run, snapshot, self._clock()))).settled:
            # The reply is in the ledger; the next poll only redoes the update and finishes.
            await self._reschedule(watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1)
            return
        await self._finish(watch, state.value, last_state=state.value)

    async def _report_progress(self, watch: Watch, snapshot: Snapshot, elapsed: float) -> None:
        state = snapshot.state
        now = self._clock()
        last_state: str | None = None
        run = WatchedRun.of(watch)
        if (
            state.value != watch.last_state
            and (await self._tell(run, CardChanged(run, snapshot, now))).settled
        ):
            last_state = state.value
        if elapsed >= self.config.give_up:
            await self._give_up(watch, run)
            return
        step = run.step
        if step is not None and (now - step.taken_at).total_seconds() >= self.config.step_limit:
            # Owed once (its key is the run's): later polls find it owed and go on watching.
            await self._tell(run, StepEnded(run, StepEnd.OUTLIVED))
        last_note_at = await self._note_if_due(watch, run, now, elapsed)
        await self._reschedule(
            watch,
            next_due(watch.next_poll_at, now, self.interval),
            last_state=last_state,
            last_note_at=last_note_at,
            poll_errors=0,
        )

    async def _note_if_due(
        self, watch: Watch, run: WatchedRun, now: datetime, elapsed: float
    ) -> datetime | None:
        """Posts the "still running" note of the current 30-minute period if not yet posted.

        The note is named by its period (30, 60, ... minutes), not the exact minute, so a retry
        after a crash asks for the same one. After a long outage only the latest period's note
        is posted, not every missed one.
        """
        periods = int(elapsed // NOTE_EVERY.total_seconds())
        if periods < 1:
            return None
        due_at = watch.started_at + periods * NOTE_EVERY
        if watch.last_note_at is not None and watch.last_note_at >= due_at:
            return None
        minutes = periods * int(NOTE_EVERY.total_seconds() // 60)
        outcome = await self._tell(run, StillRunning(run, minutes))
        return now if outcome.settled else None

    async def _give_up(self, watch: Watch, run: WatchedRun) -> None:
        outcome = await self._tell(run, WatchGaveUp(run, self.config.give_up / 3600))
        if outcome.settled and run.step is not None:
            outcome = await self._tell(run, StepEnded(run, StepEnd.GAVE_UP))
        if outcome.settled:
            log.info("watch %s gave up after %.0fs", watch.id, self.config.give_up)
            await self._finish(watch, WatchOutcome.GAVE_UP)
        else:
            await self._retry_delivery(watch, outcome)

    async def _stop(self, watch: Watch) -> None:
        """Stops watching; a step the run started is completed first, with an error (once)."""
        run = WatchedRun.of(watch)
        if run.step is not None:
            ended = await self._tell(run, StepEnded(run, StepEnd.STOPPED))
            if not ended.settled:
                await self._retry_delivery(watch, ended)
                return
        await self._finish(watch, WatchOutcome.STOPPED)

    async def _tell(self, run: WatchedRun, news: News) -> Outcome:
        """Owes news of the run in the run's channel."""
        return await self._announcer.owe(news, _channel_of(run))

    async def _retry_delivery(self, watch: Watch, outcome: Outcome) -> None:
        """Keeps the watch pending until its message is owed or sent (see
        `bot.slack.delivery.notifier`)."""
        now = self._clock()
        if outcome == Outcome.FAILED:
            await self._reschedule(watch, self._retry_at(watch), poll_errors=watch.poll_errors + 1)
        elif outcome == Outcome.UNKNOWN:
            stale = self._announcer.stale_after.total_seconds()
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


def _channel_of(run: WatchedRun) -> Channel:
    return Channel(run.team_id, run.channel_id)
