"""The senders: drain the outbox at Slack's pace, per channel in order, most urgent first.

Services write what they owe into the outbox (`bot.slack.delivery.notifier`); this is the only place
background work talks to Slack. Each round (`drain`), every few hundred milliseconds:

1. **Which teams.** A replica sends for a team only while it holds that team's sending lease
   (a `worker_leases` row `outbox:<team>`, on the database's clock): so one process's buckets
   (`bot.slack.delivery.pacing`) are the team's whole pace, a 429 held by it holds every sender of
   the team, and two replicas together stay inside the team's tier. A replica that dies loses its
   leases when they expire, and another takes its teams over.
2. **Which rows.** The pending rows of those teams, most urgent then oldest first (replies and
   alerts, then episode replies and notes, then edits: `bot.slack.delivery.keys.priority_of`),
   one post per channel at a time so a channel's messages go in the order they were owed (an
   edit, of a message already there, goes beside them in a lane of its own, so the team's
   edit allowance is not left idle while posts drain), and only as many as the buckets allow
   now: a row over the pace is not even claimed.
3. **Coalesce.** Of several pending edits of one message only the newest is sent; the older
   ones are marked sent as superseded when it is claimed (`Outbox.supersede_older`).
4. **Claim and send.** Rows are claimed (one winner across replicas) and sent concurrently,
   each by `Notifier.send`, with a bound on calls in flight. A 429 holds its bucket until
   `Retry-After`; the row waits in the queue as long.
5. **Recover.** Claims left unsettled past `stale_after` (a crash, an unknown outcome whose
   read-back got no answer) are adopted and settled by reading Slack back.

A backlog lives in the database: a round reads at most `batch` rows, whatever the queue's depth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.slack.delivery.notifier import Notifier
from bot.slack.delivery.pacing import POST, UPDATE, Pace
from storage.batching import WriteBatcher
from storage.db import Database
from storage.repositories import DeliveryLedger, WorkerLeaseRepository
from storage.repositories.outbox import Outbox, QueuedRow

log = logging.getLogger(__name__)

LEASE_SECONDS = 6.0
"""A team's sending lease, renewed every round of `TEAMS_EVERY`: a dead replica's teams move on
within seconds. A live sender that stalls past it may share its team with another for a while:
that costs pace, never a duplicate (each row has one claimer)."""
TEAMS_EVERY = 1.0
"""Seconds between looks for teams with queued rows (and lease renewals)."""
STALE_EVERY = 5.0
"""Seconds between sweeps for stale claims."""
DEPTH_EVERY = 5.0
"""Seconds between readings of the queue's depth for /metrics."""
QUIET_AT_MOST = 1.0
"""Longest a sender skips rounds whose rows all wait for their buckets: rows another replica
owes meanwhile are seen within this."""
READ_SHARE = 10.0
"""A round reuses the rows an earlier round read, not yet sent, until this many times as long
as that read took has passed (at most `REREAD_AT_MOST`): reading the queue ranks every pending
row of the sender's teams (one first row per channel), which for a wave of 25,000 alerts held
by a team's pace took longer than sending what the pace let through, every 0.2 s. A small
queue reads in a few milliseconds, so it is read every round as before."""
REREAD_AT_MOST = 1.0
"""Longest a round reuses rows read earlier: what was owed meanwhile waits at most this long
to be seen (a channel's own pace is one post a second)."""

LANE_DEPTH = 3
"""Rows a read takes of each lane (`Outbox.next_rows`): a reused read still holds a channel's
next post when its pace allows it (a read is reused for up to `REREAD_AT_MOST`, one post's
wait at the channel's finest pace), instead of that post waiting for the next read."""


@dataclass
class _Round:
    """What one round picked: rows to claim, edits they supersede, channels taken."""

    rows: list[QueuedRow] = field(default_factory=list)
    channels: set[tuple[str, str, bool]] = field(default_factory=set)
    held_back: int = 0
    soonest: float = float("inf")
    """Seconds until the first held-back lane's bucket lets a call go."""


@dataclass
class _Read:
    """The queue as a round read it (`OutboxSender._queued`): rows not sent yet, of `teams`."""

    rows: list[QueuedRow] = field(default_factory=list)
    teams: frozenset[str] = frozenset()
    at: float = float("-inf")
    took: float = 0.0


MAX_IN_FLIGHT = 1000
"""Sends at once. A send holds its slot until its "sent" mark is written, which waits for the
write batcher's next flush, so a slot is mostly spent waiting, not on a connection: at 64, a
wave of 25,000 alerts went out at ~70 a second whatever the pace allowed (benchmarks, alerts
section). The pace bounds what is sent; this only bounds the tasks."""


class OutboxSender:
    """Reads the queue in transactions of their own (`Database.reading`): a read is not queued
    behind the batcher's writes, nor holds them back while it reads. Claims, leases and
    adoptions are writes, and go through `batcher`."""

    def __init__(
        self,
        *,
        notifier: Notifier,
        db: Database,
        batcher: WriteBatcher,
        owner: str,
        pace: Pace,
        batch: int = 2000,
        max_in_flight: int = MAX_IN_FLIGHT,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._notifier = notifier
        self._db = db
        self._batcher = batcher
        self._owner = owner
        self.pace = pace
        self._batch = batch
        self._slots = asyncio.Semaphore(max_in_flight)
        self._metrics = metrics
        self._clock = clock
        self._teams: set[str] = set()
        self._in_flight: dict[tuple[str, str, bool], int] = {}
        """Each lane's row being sent, until Slack answered it (`_release`)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._next = {"teams": 0.0, "stale": 0.0, "depth": 0.0}
        self._quiet_until = (0.0, -1)
        self._read = _Read()

    # One round

    async def drain(self) -> bool:
        """One round (see module docstring); True when more rows may be sent right away."""
        now = time.monotonic()
        if now >= self._next["teams"]:
            self._next["teams"] = now + TEAMS_EVERY
            await self._lease_teams()
        if now >= self._next["stale"]:
            self._next["stale"] = now + STALE_EVERY
            await self._recover()
        if now >= self._next["depth"] and self._metrics is not None:
            self._next["depth"] = now + DEPTH_EVERY
            await self._measure()
        if not self._teams or self._quiet(now):
            return False
        owed = self._notifier.owed
        queued = await self._queued(now)
        picked = self._pick(queued)
        taken = {r.id for r in picked.rows}
        self._read.rows = [r for r in queued if r.id not in taken]
        if picked.rows:
            claimed = await self._batcher.run(lambda s: self._claim(s, picked.rows))
            for row in picked.rows:
                if row.id in claimed:
                    self._start(row, recover=False)
        elif picked.held_back and len(queued) < self._batch:
            # Every queued lane waits for its bucket: nothing can go before the soonest one
            # refills, unless something new is owed meanwhile (then the next round looks).
            self._quiet_until = (now + min(picked.soonest, QUIET_AT_MOST), owed)
        # A full read may have left lanes out: look again at once, unless this round sent
        # nothing (its lanes are in flight, or their next rows wait behind them).
        return bool(picked.rows) and len(queued) >= self._batch and picked.held_back == 0

    async def _queued(self, now: float) -> list[QueuedRow]:
        """The rows a round picks from: read again, or the unsent rows of an earlier read
        while reading is costly (`READ_SHARE`)."""
        read = self._read
        fresh = now < read.at + min(REREAD_AT_MOST, READ_SHARE * read.took)
        if read.rows and fresh and read.teams == self._teams:
            return read.rows
        teams = frozenset(self._teams)
        async with self._db.reading() as session:
            rows = await Outbox(session).next_rows(self._batch, teams, per_lane=LANE_DEPTH)
        self._read = _Read(rows, teams, at=now, took=time.monotonic() - now)
        return rows

    def _quiet(self, now: float) -> bool:
        """True while a round would find only rows held back by the pace (see `drain`)."""
        until, owed = self._quiet_until
        return now < until and self._notifier.owed == owed

    def _pick(self, queued: Sequence[QueuedRow]) -> _Round:
        """The rows this round sends: the first of each channel (`next_rows` gives one per
        channel, and only the newest edit of a message), within the pace: a row over it is
        left queued, and so is the rest of its channel."""
        picked = _Round()
        for row in queued:
            lane = _lane(row)
            if lane in picked.channels or lane in self._in_flight:
                continue
            picked.channels.add(lane)  # later rows of this lane wait for this one
            method = UPDATE if row.target is not None else POST
            if not self.pace.take(row.team_id, method, row.channel_id):
                picked.held_back += 1
                wait = self.pace.wait(row.team_id, method, row.channel_id)
                picked.soonest = min(picked.soonest, wait)
                continue
            picked.rows.append(row)
        return picked

    async def _claim(self, session: AsyncSession, rows: Sequence[QueuedRow]) -> set[int]:
        """Claims the picked rows; a claimed edit supersedes the older edits of its message."""
        outbox = Outbox(session)
        claimed = await outbox.claim([r.id for r in rows], owner=self._owner)
        await outbox.supersede_older(
            {r.target: r.id for r in rows if r.id in claimed and r.target is not None}
        )
        return claimed

    def _start(self, row: QueuedRow, *, recover: bool) -> None:
        self._in_flight[_lane(row)] = row.id
        task = asyncio.create_task(self._send(row, recover=recover), name=f"send:{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, row: QueuedRow, *, recover: bool) -> None:
        try:
            async with self._slots:
                sent = await self._notifier.send(
                    row, recover=recover, answered=lambda: self._release(row)
                )
            if sent.retry_after is not None:
                method = UPDATE if row.target is not None else POST
                self.pace.hold(row.team_id, method, row.channel_id, sent.retry_after)
                log.warning(
                    "Slack answered 429 to %s of %s/%s: holding it for %.0fs",
                    method,
                    row.team_id,
                    row.channel_id,
                    sent.retry_after,
                )
        except Exception:
            log.exception("sending outbox row %s failed; it is recovered once stale", row.id)
        finally:
            self._release(row)

    def _release(self, row: QueuedRow) -> None:
        """The row's lane is free for its next row: Slack answered it (its "sent" mark need
        not be written first, the post is there), or its send is over. A lane freed early
        may be another row's by the time the send is over: only the row's own hold is let go."""
        lane = _lane(row)
        if self._in_flight.get(lane) == row.id:
            del self._in_flight[lane]

    # Leases, recovery, metrics

    async def _lease_teams(self) -> None:
        async with self._db.reading() as session:
            teams = await Outbox(session).teams_with_work()
        now = utcnow()  # a lease's own times are the database's; this only makes it due

        async def lease(session: AsyncSession) -> set[str]:
            leases = WorkerLeaseRepository(session)
            held: set[str] = set()
            for team in sorted(set(teams) | self._teams):
                name = f"outbox:{team}"
                if team in self._teams and await leases.extend(name, self._owner, LEASE_SECONDS):
                    held.add(team)
                elif await leases.take_turn(name, self._owner, now, LEASE_SECONDS):
                    held.add(team)
            return held

        self._teams = await self._batcher.run(lease)

    async def _recover(self) -> None:
        """Adopts stale claims (one winner each) and settles them by reading Slack back."""
        stale = self._notifier.stale_after.total_seconds()
        async with self._db.reading() as session:
            rows = await Outbox(session).stale_claims(stale, 100)
        rows = [
            r
            for r in rows
            if r.team_id in self._teams
            and _lane(r) not in self._in_flight
            and not self._notifier.history_blocked(r)
        ]
        for row in rows:

            async def adopt(session: AsyncSession, row_id: int = row.id) -> bool:
                return await DeliveryLedger(session).take_over(
                    row_id, owner=self._owner, idle_for=stale
                )

            won = await self._batcher.run(adopt)
            if won and _lane(row) not in self._in_flight:
                log.warning("outbox row %s was left claimed; recovering it", row.id)
                self._start(row, recover=True)

    async def _measure(self) -> None:
        assert self._metrics is not None
        async with self._db.reading() as session:
            depths = await Outbox(session).depth()
        now = self._clock()
        seen = set()
        for depth in depths:
            seen.add(depth.priority)
            age = (now - depth.oldest).total_seconds() if depth.oldest is not None else 0.0
            self._metrics.outbox_depth.labels(str(depth.priority)).set(depth.count)
            self._metrics.outbox_oldest_age.labels(str(depth.priority)).set(max(0.0, age))
        for priority in {0, 1, 2} - seen:
            self._metrics.outbox_depth.labels(str(priority)).set(0)
            self._metrics.outbox_oldest_age.labels(str(priority)).set(0)

    def force_next_round(self) -> None:
        """The next `drain` looks for teams, stale claims and depth at once, and reads the
        queue again (tests, start-up)."""
        self._next = dict.fromkeys(self._next, 0.0)
        self._quiet_until = (0.0, -1)
        self._read = _Read()

    async def settle(self, timeout: float = 30.0) -> None:
        """Waits for the sends in flight (tests; `close`)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self, timeout: float = 10.0) -> None:
        """Lets sends in flight finish, then gives the teams' leases back."""
        await self.settle(timeout)
        teams, self._teams = self._teams, set()
        if not teams:
            return

        async def release(session: AsyncSession) -> None:
            leases = WorkerLeaseRepository(session)
            for team in teams:
                await leases.end_turn(f"outbox:{team}", self._owner, utcnow())

        try:
            await self._batcher.run(release)
        except Exception:
            log.exception("could not give the outbox leases back; they expire by themselves")


def _lane(row: QueuedRow) -> tuple[str, str, bool]:
    """A channel's posts go one at a time, in order; its edits go one at a time beside them."""
    return (row.team_id, row.channel_id, row.target is not None)
