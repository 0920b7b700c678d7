"""The delivery ledger: each message is sent at most once per (channel, snapshot, kind).

A sender claims the key before calling Slack and marks it sent afterwards:

- `claim_many` inserts `claimed` rows; the unique key makes exactly one claimer win each key,
  even across replicas, and a loser is simply not returned, never an exception;
- `mark_sent_many` records each Slack `ts` (a later `chat.update` or thread reply needs it);
- `release` drops our claim when the Slack call failed for sure, so a later attempt may retry;
- a loser reads the row with `get_many`: a row left `claimed` by a crash is adopted with
  `take_over` by one recoverer, who must find out whether the message went out before sending
  again;
- `record_failure` keeps a refused attempt as `failed` (retried by `take_over` once its backoff
  has passed) or `gave_up` (never again), counting `attempts`;
- `renew` restarts our own claim's clock before we settle an unknown outcome ourselves;
- `prune` forgets rows old enough that nobody can claim their key again (retention).

Every claim time and every age is the database server's clock (`db_now`), never the caller's:
one replica writes a claim and another judges its age, and their clocks may differ by seconds.

`claim_many`, `get_many` and `mark_sent_many` take many keys in one statement each, for the
notifier's coalesced writes (`storage.batching`); the rules per key are the same as for one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    delete,
    exists,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SCANNED_KINDS, AlertEpisode, Binding, Delivery, DeliveryStatus, Watch
from storage.repositories._sql import conflict_insert, db_now, delete_batch
from storage.types import UTCDateTime

_KEY = ("team_id", "channel_id", "snapshot_id", "kind")
OWED_OR_DONE = frozenset(
    {DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.SENT, DeliveryStatus.GAVE_UP}
)
_TABLE = cast(Table, Delivery.__table__)
_CLAIM_CHUNK = 500
"""Rows per multi-row INSERT: 7 parameters each stays far below every driver's limit."""

LedgerKey = tuple[str, str, int, str]
"""(team_id, channel_id, snapshot_id, kind): the ledger's unique key."""

Subject = tuple[int, str | None]
"""(backup_id, backup_name): what a failure alert is about, kept for the App Home."""


@dataclass(frozen=True)
class SentAlert:
    """A failure alert that went out: where, about what, when, and its message."""

    channel_id: str
    snapshot_id: int
    backup_id: int
    backup_name: str | None
    sent_at: datetime
    message_ts: str | None


@dataclass(frozen=True)
class SentMark:
    """One key of `mark_sent_many`: the message went out as `message_ts` at `sent_at`."""

    key: LedgerKey
    message_ts: str | None
    sent_at: datetime
    row_id: int | None = None
    """The row's id when the caller knows it (a sender's claim): marked by its primary key."""


_MARK_SENT_BY_ID = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("k_id"))
    .values(
        status=DeliveryStatus.SENT,
        message_ts=bindparam("v_ts"),
        sent_at=bindparam("v_sent_at", type_=UTCDateTime()),
    )
)
"""By id: on PostgreSQL a lookup by key can meet the statistics of a table that had few rows
when last analyzed (a new install's first wave) and go by the (team, kind, sent_at) index,
reading every alert row of the team for each mark (136 s of a 25,000-alert wave's database
time in the alert benchmark)."""

_MARK_SENT = (
    update(_TABLE)
    .where(
        _TABLE.c.team_id == bindparam("k_team"),
        _TABLE.c.channel_id == bindparam("k_channel"),
        _TABLE.c.snapshot_id == bindparam("k_snapshot"),
        _TABLE.c.kind == bindparam("k_kind"),
    )
    .values(
        status=DeliveryStatus.SENT,
        message_ts=bindparam("v_ts"),
        sent_at=bindparam("v_sent_at", type_=UTCDateTime()),
    )
)


def _key(team_id: str, channel_id: str, snapshot_id: int, kind: str) -> list[ColumnElement[bool]]:
    return [
        Delivery.team_id == team_id,
        Delivery.channel_id == channel_id,
        Delivery.snapshot_id == snapshot_id,
        Delivery.kind == kind,
    ]


class DeliveryLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_many(
        self,
        keys: Sequence[LedgerKey],
        *,
        owner: str,
        age: float = 0.0,
        subjects: Mapping[LedgerKey, Subject] | None = None,
    ) -> set[LedgerKey]:
        """The keys this caller now owns, in one INSERT per 500, claimed at the database's now.

        Per key, exactly one claimer wins; a key claimed or sent before is not returned. Rows
        go in key order, so two replicas claiming overlapping sets on PostgreSQL wait on each
        other in the same order instead of deadlocking. A key given twice is claimed once
        (returned once). On PostgreSQL a competing claim waits for the first claimer's
        transaction: commit the claims before the Slack call, so the rows are visible and not
        held locked during it. `age` backdates the claims by that many seconds (a crash
        leftover, for tests and tools). `subjects` names the backup a key's message is about
        (alerts).
        """
        about = subjects or {}
        rows = sorted(set(keys))
        now = db_now(self.session, plus_seconds=-age)
        claimed: set[LedgerKey] = set()
        for start in range(0, len(rows), _CLAIM_CHUNK):
            chunk = rows[start : start + _CLAIM_CHUNK]
            statement = (
                conflict_insert(self.session, _TABLE)
                .values(
                    [
                        {
                            **dict(zip(_KEY, key, strict=True)),
                            "status": DeliveryStatus.CLAIMED,
                            "claimed_by": owner,
                            "claimed_at": now,
                            "backup_id": about.get(key, (None, None))[0],
                            "backup_name": about.get(key, (None, None))[1],
                        }
                        for key in chunk
                    ]
                )
                .on_conflict_do_nothing(index_elements=list(_KEY))
                .returning(*(_TABLE.c[name] for name in _KEY))
            )
            # Each row count is its own SQL text: caching them only fills the engine's
            # compiled cache with one large entry per batch size (memory, no reuse).
            result = await self.session.execute(
                statement, execution_options={"compiled_cache": None}
            )
            claimed.update((t, c, s, k) for t, c, s, k in result.all())
        return claimed

    async def get_many(self, keys: Collection[LedgerKey]) -> dict[LedgerKey, Delivery]:
        """The rows of these keys that exist, by key (fresh from the database).

        The snapshot ids are repeated as a plain IN: SQLite searches no index for a list of
        row values, and would read the whole ledger.
        """
        found: dict[LedgerKey, Delivery] = {}
        ordered = sorted(set(keys))
        columns = tuple_(Delivery.team_id, Delivery.channel_id, Delivery.snapshot_id, Delivery.kind)
        for start in range(0, len(ordered), _CLAIM_CHUNK):
            chunk = ordered[start : start + _CLAIM_CHUNK]
            rows = await self.session.scalars(
                select(Delivery)
                .where(
                    Delivery.snapshot_id.in_(sorted({key[2] for key in chunk})), columns.in_(chunk)
                )
                .execution_options(populate_existing=True)
            )
            for row in rows:
                found[(row.team_id, row.channel_id, row.snapshot_id, row.kind)] = row
        return found

    async def mark_sent_many(self, marks: Sequence[SentMark]) -> None:
        """Records that each message went out (with its `ts`), as one executemany.

        A key with no row (never claimed, or released) stays without one.
        """
        by_id = [
            {"k_id": mark.row_id, "v_ts": mark.message_ts, "v_sent_at": mark.sent_at}
            for mark in marks
            if mark.row_id is not None
        ]
        by_key = [
            {
                "k_team": mark.key[0],
                "k_channel": mark.key[1],
                "k_snapshot": mark.key[2],
                "k_kind": mark.key[3],
                "v_ts": mark.message_ts,
                "v_sent_at": mark.sent_at,
            }
            for mark in marks
            if mark.row_id is None
        ]
        if by_id:
            await self.session.execute(_MARK_SENT_BY_ID, by_id)
        if by_key:
            await self.session.execute(_MARK_SENT, by_key)

    async def sent_keys(
        self, snapshot_ids: Collection[int], kind: str
    ) -> set[tuple[str, str, int]]:
        """(team, channel, snapshot) of deliveries of `kind` already sent for these snapshots."""
        return await self._keys(snapshot_ids, kind, (DeliveryStatus.SENT,))

    async def owed_keys(
        self, snapshot_ids: Collection[int], kind: str
    ) -> set[tuple[str, str, int]]:
        """(team, channel, snapshot) of deliveries of `kind` of these snapshots that are sent,
        queued in the outbox, being sent or given up: nothing more to owe for them.

        Lets a scanner skip, with one query, the failures it has already announced, instead of
        one outbox write per channel and snapshot. A `failed` row (refused before the outbox)
        is owed again, which queues it.
        """
        return await self._keys(snapshot_ids, kind, OWED_OR_DONE)

    async def _keys(
        self, snapshot_ids: Collection[int], kind: str, statuses: Collection[str]
    ) -> set[tuple[str, str, int]]:
        if not snapshot_ids:
            return set()
        result = await self.session.execute(
            select(Delivery.team_id, Delivery.channel_id, Delivery.snapshot_id).where(
                Delivery.snapshot_id.in_(list(snapshot_ids)),
                Delivery.kind == kind,
                Delivery.status.in_(sorted(statuses)),
            )
        )
        return {(team, channel, snapshot) for team, channel, snapshot in result.all()}

    async def recent_sent(
        self, team_id: str, channel_ids: Collection[str], kind: str, *, limit: int
    ) -> list[SentAlert]:
        """The team's latest `limit` sent deliveries of `kind` in these channels that name their
        backup, newest first (what the App Home lists as recent failures)."""
        if not channel_ids:
            return []
        rows = await self.session.scalars(
            select(Delivery)
            .where(
                Delivery.team_id == team_id,
                Delivery.kind == kind,
                Delivery.status == DeliveryStatus.SENT,
                Delivery.channel_id.in_(sorted(channel_ids)),
                Delivery.backup_id.is_not(None),
                Delivery.sent_at.is_not(None),
            )
            .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
        return [
            SentAlert(
                channel_id=row.channel_id,
                snapshot_id=row.snapshot_id,
                backup_id=cast(int, row.backup_id),
                backup_name=row.backup_name,
                sent_at=cast(datetime, row.sent_at),
                message_ts=row.message_ts,
            )
            for row in rows
        ]

    async def release(
        self, team_id: str, channel_id: str, snapshot_id: int, kind: str, *, owner: str
    ) -> bool:
        """Withdraws our unsent claim so the delivery can be attempted again later.

        Only for a Slack call known to have failed; a sent row or another owner's claim stays.
        """
        result = await self.session.execute(
            delete(Delivery)
            .where(
                *_key(team_id, channel_id, snapshot_id, kind),
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.claimed_by == owner,
            )
            .returning(Delivery.id)
        )
        return result.first() is not None

    async def hand_back(self, key: LedgerKey, *, owner: str, claimed_at: datetime) -> bool:
        """Gives an adopted claim back with its original claim time, unsettled and still stale.

        For a recovery that could not read Slack yet (rate limited): the claim stays (nothing
        may be posted blindly), and the next recoverer's history read starts from the original
        claim again, not from our adoption, so a message posted back then is still found.
        """
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                *_key(*key),
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.claimed_by == owner,
            )
            .values(claimed_at=claimed_at)
            .returning(Delivery.id)
        )
        return result.first() is not None

    async def take_over(
        self,
        delivery_id: int,
        *,
        owner: str,
        idle_for: float,
        status: str = DeliveryStatus.CLAIMED,
    ) -> bool:
        """Adopts a row in `status` untouched for `idle_for` seconds; one of racers gets True.

        A `claimed` row idle that long is a stale claim (a crash leftover); a `failed` one has
        served its backoff. Either way it becomes our fresh claim.
        """
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == status,
                Delivery.claimed_at < db_now(self.session, plus_seconds=-idle_for),
            )
            .values(
                status=DeliveryStatus.CLAIMED, claimed_by=owner, claimed_at=db_now(self.session)
            )
            .returning(Delivery.id)
        )
        return result.first() is not None

    async def renew(self, key: LedgerKey, *, owner: str) -> bool:
        """Restarts the clock of our own unsent claim; False if it is ours no longer."""
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                *_key(*key),
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.claimed_by == owner,
            )
            .values(claimed_at=db_now(self.session))
            .returning(Delivery.id)
        )
        return result.first() is not None

    async def record_failure(
        self, key: LedgerKey, *, owner: str, error: str, max_attempts: int
    ) -> tuple[str, int] | None:
        """Counts a refused attempt of our claim: (new status, attempts), None if not ours.

        The row becomes `gave_up` once `attempts` reaches `max_attempts` (1: give up now),
        else `failed`; `claimed_at` is when it failed, which the backoff counts from.
        """
        attempts = Delivery.attempts + 1
        result = await self.session.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                *_key(*key),
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.claimed_by == owner,
            )
            .values(
                status=case(
                    (attempts >= max_attempts, DeliveryStatus.GAVE_UP.value),
                    else_=DeliveryStatus.FAILED.value,
                ),
                attempts=attempts,
                last_error=error[:64],
                claimed_at=db_now(self.session),
            )
            .returning(Delivery.status, Delivery.attempts)
        )
        row = result.first()
        return None if row is None else (str(row[0]), int(row[1]))

    async def prune(
        self, claimed_before: datetime, *, alerts_claimed_before: datetime, limit: int = 1000
    ) -> int:
        """Deletes up to `limit` rows last claimed before `claimed_before`; returns how many.

        A deleted key can be claimed (and sent) again, so only keys nobody will ask for go:
        alert rows (and episode replies and edits) only before `alerts_claimed_before` (the
        caller's bound on what the alert scanner may still re-read), and never a row of a watch
        still pending, whatever its age, because a pending watch posts under its keys until it
        finishes. Nor the first alert of a failure episode still open in its channel: its `ts` is
        the thread every later failure and the recovery go in, and without it the next failure
        would restart the episode as a new top-level alert.
        """
        pending_watch = exists().where(
            Watch.team_id == Delivery.team_id,
            Watch.channel_id == Delivery.channel_id,
            Watch.snapshot_id == Delivery.snapshot_id,
            Watch.finished_at.is_(None),
        )
        open_episode = exists().where(
            AlertEpisode.binding_id == Binding.id,
            Binding.team_id == Delivery.team_id,
            Binding.channel_id == Delivery.channel_id,
            AlertEpisode.first_snapshot_id == Delivery.snapshot_id,
            AlertEpisode.closed_at.is_(None),
        )
        where = [
            Delivery.claimed_at < claimed_before,
            Delivery.status != DeliveryStatus.PENDING,  # still owed: the outbox sends it
            or_(
                Delivery.kind.not_in(sorted(SCANNED_KINDS)),
                Delivery.claimed_at < alerts_claimed_before,
            ),
            ~pending_watch,
            ~open_episode,
        ]
        return await delete_batch(
            self.session, Delivery, where, limit, oldest_first=Delivery.claimed_at
        )
