"""The outbox: the delivery ledger's rows as a queue that senders drain at Slack's pace.

A service that owes a message writes its row (`enqueue_many`, status `pending`, with the Web
API call as JSON in `payload`) and moves on; a sender later claims it (`claim`, status
`claimed`), posts it and marks it `sent` (`DeliveryLedger.mark_sent_many`). The unique ledger
key makes writing the same row twice a no-op, so a service that crashes after writing and before
recording its own state change writes it again on its retry and nothing is owed twice: that is
what makes "the row and the state change together" hold across crashes
(docs/reference/guarantees.md#exactly-once).

Which rows a sender takes next (`next_rows`): pending ones whose `not_before` has passed, by
priority then age (the id). Per channel order and pacing are the sender's
(`bot.slack.delivery.senders`). Every time is the database server's clock, as in the rest of the
ledger.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Delivery, DeliveryKind, DeliveryStatus
from storage.repositories._sql import conflict_insert, db_now
from storage.repositories.deliveries import DeliveryLedger, LedgerKey, Subject

_TABLE = cast(Table, Delivery.__table__)
_KEY = ("team_id", "channel_id", "snapshot_id", "kind")
_CHUNK = 5000
"""Rows per execution (SQLAlchemy splits each into INSERTs its driver accepts); bounds the
parameter lists held at once."""


@dataclass(frozen=True)
class OutboxEntry:
    """One message a service owes: its ledger key, how urgent, and the call that sends it."""

    key: LedgerKey
    priority: int
    payload: str
    target: str | None = None
    subject: Subject | None = None


@dataclass(frozen=True)
class RowState:
    """Where an owed message stands: `status` of its row, its `ts` once sent, why it gave up."""

    status: str
    message_ts: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class QueuedRow:
    """A row a sender may take: its key, its call, and what orders and paces it."""

    id: int
    team_id: str
    channel_id: str
    snapshot_id: int
    kind: str
    priority: int
    payload: str
    target: str | None
    attempts: int
    claimed_at: datetime

    @property
    def key(self) -> LedgerKey:
        return (self.team_id, self.channel_id, self.snapshot_id, self.kind)


@dataclass(frozen=True)
class Depth:
    """Queued rows of one priority and the enqueue time of the oldest (for /metrics, `status`)."""

    priority: int
    count: int
    oldest: datetime | None


_QUEUED_COLUMNS = (
    Delivery.id,
    Delivery.team_id,
    Delivery.channel_id,
    Delivery.snapshot_id,
    Delivery.kind,
    Delivery.priority,
    Delivery.payload,
    Delivery.target,
    Delivery.attempts,
    Delivery.claimed_at,
)


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue_many(
        self, entries: Sequence[OutboxEntry], *, owner: str
    ) -> dict[LedgerKey, RowState]:
        """Writes each entry's row unless its key has one; the state of every key after.

        A key that has a row without a payload (a card the request path claimed and could not
        settle) gets this payload, so a sender can recover it; a row that has one keeps it.
        """
        by_key = {entry.key: entry for entry in entries}
        rows = sorted(by_key)
        now = db_now(self.session)
        states: dict[LedgerKey, RowState] = {}
        # One statement, executed for many rows: SQLAlchemy batches it into multi-row INSERTs
        # with RETURNING ("insertmanyvalues"), compiled once; the clock is the database's.
        statement = (
            conflict_insert(self.session, _TABLE)
            .values(claimed_at=now)
            .on_conflict_do_nothing(index_elements=list(_KEY))
            .returning(*(_TABLE.c[name] for name in _KEY))
        )
        for start in range(0, len(rows), _CHUNK):
            chunk = [by_key[key] for key in rows[start : start + _CHUNK]]
            result = await self.session.execute(statement, [_row(entry, owner) for entry in chunk])
            for team, channel, snapshot, kind in result.all():
                states[(team, channel, snapshot, kind)] = RowState(DeliveryStatus.PENDING)
        others = [key for key in rows if key not in states]
        if others:
            states.update(await self._existing(others, by_key))
        return states

    async def _existing(
        self, keys: Sequence[LedgerKey], entries: dict[LedgerKey, OutboxEntry]
    ) -> dict[LedgerKey, RowState]:
        found = await DeliveryLedger(self.session).get_many(keys)
        states: dict[LedgerKey, RowState] = {}
        for key in keys:
            row = found.get(key)
            if row is None:  # pruned or released in between: owed again next time
                states[key] = RowState(DeliveryStatus.CLAIMED)
                continue
            status = row.status
            if status == DeliveryStatus.FAILED or (
                row.payload is None and status == DeliveryStatus.CLAIMED
            ):
                # Refused before the outbox existed (retried by the senders now), or a card the
                # request path claimed and could not settle (recovered by the senders once stale).
                entry = entries[key]
                if status == DeliveryStatus.FAILED:
                    status = DeliveryStatus.PENDING
                await self.session.execute(
                    update(Delivery)
                    .execution_options(synchronize_session=False)
                    .where(Delivery.id == row.id, Delivery.status == row.status)
                    .values(
                        payload=entry.payload,
                        priority=entry.priority,
                        target=entry.target,
                        status=status,
                    )
                )
            states[key] = RowState(status, row.message_ts, row.last_error)
        return states

    async def next_rows(
        self, limit: int, teams: Collection[str] | None = None, *, per_lane: int | None = None
    ) -> list[QueuedRow]:
        """Pending rows that may be sent now, most urgent and oldest first (of `teams` if given).

        An edit with a newer pending edit of the same message is left out: only the newest is
        sent (coalescing). `per_lane`: the first `per_lane` rows of each channel's posts and of
        its edits (a lane; a run's card edit still waits for its reply), every lane's first row
        before any lane's second whatever their priorities: priority first let a wave's replies
        crowd their header edits out of `limit` (the episodes section took a third longer). A
        lane's next rows let a sender reusing a read send a channel's next post when its pace
        allows, not a read later.
        """
        newer = aliased(Delivery)
        where = [
            Delivery.status == DeliveryStatus.PENDING,
            or_(Delivery.not_before.is_(None), Delivery.not_before <= db_now(self.session)),
            or_(
                Delivery.target.is_(None),
                ~exists().where(
                    newer.target == Delivery.target,
                    newer.status == DeliveryStatus.PENDING,
                    newer.id > Delivery.id,
                ),
            ),
        ]
        if teams is not None:
            where.append(Delivery.team_id.in_(sorted(teams)))
        if per_lane is None:
            result = await self.session.execute(
                select(*_QUEUED_COLUMNS)
                .where(*where)
                .order_by(Delivery.priority, Delivery.id)
                .limit(limit)
            )
            return await self._after_replies([_queued(row) for row in result.all()])
        place = (
            func.row_number()
            .over(
                partition_by=(Delivery.team_id, Delivery.channel_id, Delivery.target.is_(None)),
                order_by=(Delivery.priority, Delivery.id),
            )
            .label("place")
        )
        # The ranking reads only the narrow columns of every pending row; the payloads are
        # read for the rows it picks (a wave's pending rows carry megabytes of them).
        firsts = select(Delivery.id, Delivery.priority, place).where(*where).subquery()
        picked = (
            select(firsts.c.id, firsts.c.priority, firsts.c.place)
            .where(firsts.c.place <= per_lane)
            .order_by(firsts.c.place, firsts.c.priority, firsts.c.id)
            .limit(limit)
            .subquery()
        )
        result = await self.session.execute(
            select(*_QUEUED_COLUMNS)
            .join(picked, picked.c.id == Delivery.id)
            .order_by(picked.c.place, picked.c.priority, picked.c.id)
        )
        return await self._after_replies([_queued(row) for row in result.all()])

    async def _after_replies(self, rows: list[QueuedRow]) -> list[QueuedRow]:
        """`rows` without the edits whose run's reply, owed before them in their channel, is
        not sent yet: a run's reply goes before its card's final state, though an edit has a
        lane of its own. One indexed read for the edits' snapshots (matching the replies in
        the queue's own query scanned it once per edit on PostgreSQL, and a watch wave of
        5,000 runs took 35 s instead of 19: benchmarks, watch section)."""
        edits = {r.snapshot_id for r in rows if r.target is not None}
        if not edits:
            return rows
        first_reply: dict[tuple[str, str, int], int] = {}
        ids = sorted(edits)
        for start in range(0, len(ids), _CHUNK):
            result = await self.session.execute(
                select(
                    Delivery.team_id, Delivery.channel_id, Delivery.snapshot_id, Delivery.id
                ).where(
                    Delivery.snapshot_id.in_(ids[start : start + _CHUNK]),
                    Delivery.kind == DeliveryKind.THREAD_REPLY,
                    Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.CLAIMED)),
                )
            )
            for team, channel, snapshot, reply_id in result.all():
                first_reply[(team, channel, snapshot)] = reply_id
        return [
            r
            for r in rows
            if r.target is None
            or first_reply.get((r.team_id, r.channel_id, r.snapshot_id), r.id) >= r.id
        ]

    async def teams_with_work(self) -> list[str]:
        """Teams with rows to send or to recover (the senders lease each team's sending)."""
        result = await self.session.scalars(
            select(Delivery.team_id)
            .where(
                or_(
                    Delivery.status == DeliveryStatus.PENDING,
                    and_(Delivery.status == DeliveryStatus.CLAIMED, Delivery.payload.is_not(None)),
                )
            )
            .distinct()
        )
        return sorted(result.all())

    async def claim(self, ids: Collection[int], *, owner: str) -> set[int]:
        """The pending rows of `ids` that are now `owner`'s claims (one winner per row)."""
        if not ids:
            return set()
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(Delivery.id.in_(sorted(ids)), Delivery.status == DeliveryStatus.PENDING)
            .values(
                status=DeliveryStatus.CLAIMED, claimed_by=owner, claimed_at=db_now(self.session)
            )
            .returning(Delivery.id)
        )
        return {row[0] for row in result.all()}

    async def stale_claims(self, stale_after: float, limit: int) -> list[QueuedRow]:
        """Claims nobody settled within `stale_after` seconds that a sender can redo (they have
        a payload): crash leftovers and unknown outcomes, oldest first."""
        result = await self.session.execute(
            select(*_QUEUED_COLUMNS)
            .where(
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.payload.is_not(None),
                Delivery.claimed_at < db_now(self.session, plus_seconds=-stale_after),
            )
            .order_by(Delivery.claimed_at)
            .limit(limit)
        )
        return [_queued(row) for row in result.all()]

    async def supersede_older(self, newest: Mapping[str, int]) -> None:
        """Marks the pending edits of each target older than its newest id sent without
        sending them: the newest carries the message's latest state (coalescing). One
        statement for a round's claimed edits (executemany)."""
        if newest:
            superseded = (
                update(_TABLE)
                .where(
                    _TABLE.c.target == bindparam("t"),
                    _TABLE.c.status == DeliveryStatus.PENDING.value,
                    _TABLE.c.id < bindparam("i"),
                )
                .values(
                    status=DeliveryStatus.SENT.value,
                    message_ts=bindparam("ts"),
                    sent_at=db_now(self.session),
                    last_error="superseded",
                )
            )
            await self.session.execute(
                superseded,
                [
                    {"t": target, "i": newest_id, "ts": target.rpartition("/")[2]}
                    for target, newest_id in newest.items()
                ],
            )

    async def requeue(
        self,
        key: LedgerKey,
        *,
        owner: str,
        delay: float,
        error: str | None,
        count: bool,
        max_attempts: int,
    ) -> tuple[str, int] | None:
        """Our claim goes back to the queue for `delay` seconds (the database's clock).

        `count`: a refusal, counted in `attempts`; the row is given up once they reach
        `max_attempts` (1: give up now). A rate limit or an unknown outcome is not counted.
        Returns (new status, attempts), or None when the claim is no longer ours.
        """
        attempts = Delivery.attempts + 1 if count else Delivery.attempts
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                Delivery.team_id == key[0],
                Delivery.channel_id == key[1],
                Delivery.snapshot_id == key[2],
                Delivery.kind == key[3],
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.claimed_by == owner,
            )
            .values(
                status=case(
                    (attempts >= max_attempts, DeliveryStatus.GAVE_UP.value),
                    else_=DeliveryStatus.PENDING.value,
                )
                if count
                else DeliveryStatus.PENDING.value,
                attempts=attempts,
                not_before=db_now(self.session, plus_seconds=delay),
                last_error=None if error is None else error[:64],
            )
            .returning(Delivery.status, Delivery.attempts)
        )
        row = result.first()
        return None if row is None else (str(row[0]), int(row[1]))

    async def delay(self, key: LedgerKey, *, delay: float) -> None:
        """A queued row waits `delay` seconds from now before a sender may take it."""
        await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                Delivery.team_id == key[0],
                Delivery.channel_id == key[1],
                Delivery.snapshot_id == key[2],
                Delivery.kind == key[3],
                Delivery.status == DeliveryStatus.PENDING,
            )
            .values(not_before=db_now(self.session, plus_seconds=delay))
        )

    async def mark_thread_gone(self, team_id: str, channel_id: str, message_ts: str) -> int:
        """Slack says the message `message_ts` is gone (deleted): the alert it was is marked
        given up, so the episode it began starts again with a new alert (`_alert_threads`)."""
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                Delivery.team_id == team_id,
                Delivery.channel_id == channel_id,
                Delivery.message_ts == message_ts,
                Delivery.status == DeliveryStatus.SENT,
                Delivery.target.is_(None),
            )
            .values(status=DeliveryStatus.GAVE_UP, last_error="thread_not_found")
            .returning(Delivery.id)
        )
        return len(result.all())

    async def give_up_channel(self, team_id: str, channel_id: str, error: str) -> int:
        """Every queued row of a channel Slack refuses (a paused binding) is given up."""
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                Delivery.team_id == team_id,
                Delivery.channel_id == channel_id,
                Delivery.status == DeliveryStatus.PENDING,
            )
            .values(status=DeliveryStatus.GAVE_UP, last_error=error[:64])
            .returning(Delivery.id)
        )
        return len(result.all())

    async def depth(self, team_id: str | None = None, channel_id: str | None = None) -> list[Depth]:
        """Queued (pending) rows per priority and the oldest one's enqueue time."""
        where = [Delivery.status == DeliveryStatus.PENDING]
        if team_id is not None:
            where.append(Delivery.team_id == team_id)
        if channel_id is not None:
            where.append(Delivery.channel_id == channel_id)
        result = await self.session.execute(
            select(Delivery.priority, func.count(), func.min(Delivery.claimed_at))
            .where(and_(*where))
            .group_by(Delivery.priority)
            .order_by(Delivery.priority)
        )
        return [Depth(int(p), int(n), oldest) for p, n, oldest in result.all()]


def _queued(row: Sequence[Any]) -> QueuedRow:
    return QueuedRow(
        id=int(row[0]),
        team_id=str(row[1]),
        channel_id=str(row[2]),
        snapshot_id=int(row[3]),
        kind=str(row[4]),
        priority=int(row[5]),
        payload=str(row[6]),
        target=None if row[7] is None else str(row[7]),
        attempts=int(row[8]),
        claimed_at=row[9],
    )


def _row(entry: OutboxEntry, owner: str) -> dict[str, object]:
    backup_id, backup_name = entry.subject if entry.subject is not None else (None, None)
    return {
        **dict(zip(_KEY, entry.key, strict=True)),
        "status": DeliveryStatus.PENDING,
        "claimed_by": owner,
        "backup_id": backup_id,
        "backup_name": backup_name,
        "priority": entry.priority,
        "payload": entry.payload,
        "target": entry.target,
    }
