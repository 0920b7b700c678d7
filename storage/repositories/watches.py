"""Watches: snapshots started from Slack, polled by the watcher until they finish.

`reschedule_many` and `finish_many` write the results of many polls as one executemany each
(the watcher's coalesced writes, `storage.batching`), fenced by the lease like `finish`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Watch, WatchOutcome
from storage.repositories import _leases
from storage.repositories._sql import delete_batch, insert_if_absent
from storage.types import UTCDateTime

_TABLE = cast(Table, Watch.__table__)


@dataclass(frozen=True)
class WatchedStep:
    """The Workflow Builder step a watched run completes (`Watch.step_execution_id`)."""

    execution_id: str
    token_ciphertext: str
    workflow_title: str | None
    taken_at: datetime


@dataclass(frozen=True)
class PollResult:
    """One poll's result for `reschedule_many`; None leaves a field as it is."""

    watch_id: int
    next_poll_at: datetime
    last_state: str | None = None
    last_note_at: datetime | None = None
    poll_errors: int | None = None


@dataclass(frozen=True)
class FinishedWatch:
    """One watch's `finish` for `finish_many`."""

    watch_id: int
    outcome: str
    finished_at: datetime
    last_state: str | None = None


def _fenced() -> list[object]:
    return [
        _TABLE.c.id == bindparam("k_id"),
        _TABLE.c.finished_at.is_(None),
        _TABLE.c.lease_owner == bindparam("k_owner"),
    ]


_RESCHEDULE = (
    update(_TABLE)
    .where(*_fenced())  # type: ignore[arg-type]
    .values(
        next_poll_at=bindparam("v_next", type_=UTCDateTime()),
        lease_owner=None,
        lease_until=None,
        last_state=func.coalesce(
            bindparam("v_state", type_=_TABLE.c.last_state.type), _TABLE.c.last_state
        ),
        last_note_at=func.coalesce(bindparam("v_note", type_=UTCDateTime()), _TABLE.c.last_note_at),
        poll_errors=func.coalesce(
            bindparam("v_errors", type_=_TABLE.c.poll_errors.type), _TABLE.c.poll_errors
        ),
    )
)
_FINISH = (
    update(_TABLE)
    .where(*_fenced())  # type: ignore[arg-type]
    .values(
        finished_at=bindparam("v_finished", type_=UTCDateTime()),
        outcome=bindparam("v_outcome", type_=_TABLE.c.outcome.type),
        lease_owner=None,
        lease_until=None,
        last_state=func.coalesce(
            bindparam("v_state", type_=_TABLE.c.last_state.type), _TABLE.c.last_state
        ),
    )
)


class WatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        team_id: str,
        channel_id: str,
        message_ts: str | None,
        workspace_id: int,
        backup_id: int,
        backup_name: str | None,
        snapshot_id: int,
        started_by: str,
        started_at: datetime,
        next_poll_at: datetime,
        last_state: str | None = None,
        card_thread_ts: str | None = None,
        step: WatchedStep | None = None,
    ) -> Watch:
        """Records a watch; adding the same (team, channel, snapshot) again returns the first."""
        await insert_if_absent(
            self.session,
            Watch,
            {
                "team_id": team_id,
                "channel_id": channel_id,
                "message_ts": message_ts,
                "card_thread_ts": card_thread_ts,
                "workspace_id": workspace_id,
                "backup_id": backup_id,
                "backup_name": backup_name,
                "snapshot_id": snapshot_id,
                "started_by": started_by,
                "started_at": started_at,
                "next_poll_at": next_poll_at,
                "last_state": last_state,
                "poll_errors": 0,
                "step_execution_id": step.execution_id if step else None,
                "step_token_ciphertext": step.token_ciphertext if step else None,
                "workflow_title": step.workflow_title if step else None,
                "step_taken_at": step.taken_at if step else None,
            },
            ("team_id", "channel_id", "snapshot_id"),
        )
        watch = await self.get_for_snapshot(team_id, channel_id, snapshot_id)
        assert watch is not None  # just inserted, or already there: the row exists
        return watch

    async def set_card(
        self, team_id: str, channel_id: str, snapshot_id: int, message_ts: str
    ) -> bool:
        """Records the card of the channel's watch of a snapshot that had none; False if it
        already had one (or there is no such watch).

        Not fenced by the lease: the card's `ts` is a fact about Slack, whoever learnt it.
        """
        result = await self.session.execute(
            update(Watch)
            .where(
                Watch.team_id == team_id,
                Watch.channel_id == channel_id,
                Watch.snapshot_id == snapshot_id,
                Watch.message_ts.is_(None),
            )
            .values(message_ts=message_ts)
            .returning(Watch.id)
        )
        return result.first() is not None

    async def get(self, watch_id: int) -> Watch | None:
        return await self.session.get(Watch, watch_id, populate_existing=True)

    async def get_for_snapshot(
        self, team_id: str, channel_id: str, snapshot_id: int
    ) -> Watch | None:
        """The channel's watch of a snapshot, pending or finished (the alert scanner asks this)."""
        return await self.session.scalar(
            select(Watch)
            .where(
                Watch.team_id == team_id,
                Watch.channel_id == channel_id,
                Watch.snapshot_id == snapshot_id,
            )
            .execution_options(populate_existing=True)
        )

    async def watched_snapshots(self, snapshot_ids: Collection[int]) -> set[tuple[str, str, int]]:
        """(team, channel, snapshot) of every watch, pending or finished, of these snapshots.

        The alert scanner asks once per scan: a channel that watches a snapshot hears of its
        failure in the thread, not in an alert.
        """
        if not snapshot_ids:
            return set()
        result = await self.session.execute(
            select(Watch.team_id, Watch.channel_id, Watch.snapshot_id).where(
                Watch.snapshot_id.in_(list(snapshot_ids))
            )
        )
        return {(team, channel, snapshot) for team, channel, snapshot in result.all()}

    async def pending_for_backup(self, workspace_id: int, backup_id: int) -> Sequence[Watch]:
        """The backup's runs being watched: the overdue check knows from them that a run is
        going (and which thread its note goes in) without asking Skyvia."""
        result = await self.session.scalars(
            select(Watch).where(
                Watch.workspace_id == workspace_id,
                Watch.backup_id == backup_id,
                Watch.finished_at.is_(None),
            )
        )
        return result.all()

    async def pending_for_channel(self, team_id: str, channel_id: str) -> Sequence[Watch]:
        result = await self.session.scalars(
            select(Watch)
            .where(
                Watch.team_id == team_id,
                Watch.channel_id == channel_id,
                Watch.finished_at.is_(None),
            )
            .order_by(Watch.started_at)
        )
        return result.all()

    async def pending_for_team(self, team_id: str) -> Sequence[Watch]:
        result = await self.session.scalars(
            select(Watch)
            .where(Watch.team_id == team_id, Watch.finished_at.is_(None))
            .order_by(Watch.channel_id, Watch.started_at)
        )
        return result.all()

    async def count_pending(self) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Watch).where(Watch.finished_at.is_(None))
        )
        return int(count or 0)

    async def stop_for_channel(
        self,
        team_id: str,
        channel_id: str,
        outcome: str = WatchOutcome.STOPPED,
        *,
        now: datetime | None = None,
    ) -> int:
        """Finishes every pending watch of the channel (disconnect); returns how many.

        Leases are ignored on purpose: a worker polling one of them finds it finished when it
        tries to write (`finish` returns False, `reschedule_many` leaves it) and drops it. Without
        `now` the database's clock stamps them (storage reads no clock of its own).
        """
        result = await self.session.execute(
            update(Watch)
            .where(
                Watch.team_id == team_id,
                Watch.channel_id == channel_id,
                Watch.finished_at.is_(None),
            )
            .values(
                finished_at=now if now is not None else func.now(),
                outcome=outcome,
                lease_owner=None,
                lease_until=None,
            )
            .returning(Watch.id)
        )
        return len(result.all())

    async def prune_finished(self, finished_before: datetime, limit: int = 1000) -> int:
        """Deletes up to `limit` watches that finished before `finished_before`; how many.

        Pending watches (`finished_at` NULL) never match.
        """
        return await delete_batch(
            self.session,
            Watch,
            [Watch.finished_at < finished_before],
            limit,
            oldest_first=Watch.finished_at,
        )

    async def claim_due(
        self, owner: str, now: datetime, limit: int, lease_seconds: float
    ) -> list[Watch]:
        """Leases pending watches whose poll is due to `owner` (see `repositories._leases`)."""
        return await _leases.claim_due(
            self.session,
            Watch,
            due=[Watch.finished_at.is_(None), Watch.next_poll_at <= now],
            order_by=Watch.next_poll_at,
            owner=owner,
            limit=limit,
            lease_seconds=lease_seconds,
        )

    async def finish(
        self,
        watch_id: int,
        owner: str,
        *,
        outcome: str,
        now: datetime,
        last_state: str | None = None,
    ) -> bool:
        """Marks the watch done with `outcome` (final state, 'gave_up'); False if not ours."""
        values: dict[str, object] = {
            "finished_at": now,
            "outcome": outcome,
            "lease_owner": None,
            "lease_until": None,
        }
        if last_state is not None:
            values["last_state"] = last_state
        return await self._write_claimed(watch_id, owner, values)

    async def reschedule_many(self, owner: str, results: Sequence[PollResult]) -> None:
        """Stores each poll's result and releases its lease, as one executemany.

        Watches not held by `owner` (lease lost, or stopped) stay as they are.
        """
        if not results:
            return
        await self.session.execute(
            _RESCHEDULE,
            [
                {
                    "k_id": r.watch_id,
                    "k_owner": owner,
                    "v_next": r.next_poll_at,
                    "v_state": r.last_state,
                    "v_note": r.last_note_at,
                    "v_errors": r.poll_errors,
                }
                for r in results
            ],
        )

    async def finish_many(self, owner: str, watches: Sequence[FinishedWatch]) -> None:
        """`finish` of each watch, as one executemany; watches not held by `owner` stay."""
        if not watches:
            return
        await self.session.execute(
            _FINISH,
            [
                {
                    "k_id": w.watch_id,
                    "k_owner": owner,
                    "v_finished": w.finished_at,
                    "v_outcome": w.outcome,
                    "v_state": w.last_state,
                }
                for w in watches
            ],
        )

    async def release(self, watch_id: int, owner: str) -> bool:
        """Gives the lease back unchanged, e.g. on shutdown, so another worker polls it now."""
        return await self._write_claimed(
            watch_id, owner, {"lease_owner": None, "lease_until": None}
        )

    async def _write_claimed(self, watch_id: int, owner: str, values: dict[str, object]) -> bool:
        result = await self.session.execute(
            update(Watch)
            .where(
                Watch.id == watch_id,
                Watch.finished_at.is_(None),
                _leases.held_by(Watch, owner),
            )
            .values(**values)
            .returning(Watch.id)
        )
        return result.first() is not None
