"""Rows of every kind retention prunes, stamped at a chosen time, and what is left of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import (
    AuditEntry,
    Binding,
    Delivery,
    DeliveryKind,
    PastEpisode,
    ProcessedClick,
    StepExecution,
    Watch,
)
from storage.records import BindingRecord
from storage.repositories import (
    AuditRepository,
    BindingRepository,
    ClickRepository,
    DeliveryLedger,
    StepExecutionRepository,
    WatchRepository,
)
from storage.repositories.deliveries import SentMark

TEAM = "T1"


async def click(db: Database, key: str, at: datetime) -> None:
    async with db.session() as session:
        assert await ClickRepository(session).record_once(key, "U1", at)


async def step(db: Database, execution_id: str, at: datetime) -> None:
    async with db.session() as session:
        assert await StepExecutionRepository(session).take(execution_id, TEAM, "run", at)


async def step_ids(db: Database) -> set[str]:
    async with db.session() as session:
        return set((await session.scalars(select(StepExecution.execution_id))).all())


async def audit(db: Database, target: str, at: datetime) -> None:
    async with db.session() as session:
        await AuditRepository(session).add(TEAM, "C1", "U1", "connect", target, "ok", at=at)


async def watch(
    db: Database, channel: str, snapshot_id: int, started: datetime, finished: datetime | None
) -> None:
    """A watch in its own channel; finished at `finished`, or pending when None."""
    async with db.session() as session:
        repo = WatchRepository(session)
        await repo.add(
            team_id=TEAM,
            channel_id=channel,
            message_ts=f"1700000000.{snapshot_id:06d}",
            workspace_id=7,
            backup_id=456,
            backup_name="Nightly CRM",
            snapshot_id=snapshot_id,
            started_by="U1",
            started_at=started,
            next_poll_at=started,
        )
        if finished is not None:
            await repo.stop_for_channel(TEAM, channel, "Succeeded", now=finished)


async def delivery(
    db: Database, channel: str, snapshot_id: int, kind: str, at: datetime, *, sent: bool = True
) -> None:
    key = (TEAM, channel, snapshot_id, kind)
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        assert await ledger.claim_many([key], owner="w") == {key}
        # Claims are stamped by the database's clock; this one is moved to the chosen time.
        await session.execute(
            update(Delivery)
            .where(Delivery.team_id == TEAM, Delivery.channel_id == channel)
            .where(Delivery.snapshot_id == snapshot_id, Delivery.kind == kind)
            .values(claimed_at=at)
        )
        if sent:
            await ledger.mark_sent_many([SentMark(key, "1700000000.000001", at)])


async def click_keys(db: Database) -> set[str]:
    async with db.session() as session:
        return set((await session.scalars(select(ProcessedClick.key))).all())


async def audit_targets(db: Database) -> set[str]:
    async with db.session() as session:
        return {t or "" for t in (await session.scalars(select(AuditEntry.target))).all()}


async def watch_channels(db: Database) -> set[str]:
    async with db.session() as session:
        return set((await session.scalars(select(Watch.channel_id))).all())


async def delivery_keys(db: Database) -> set[tuple[str, int, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Delivery.channel_id, Delivery.snapshot_id, Delivery.kind)
        )
        return {(c, s, k) for c, s, k in rows.all()}


async def count(db: Database, model: type[object]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


ALERT = DeliveryKind.ALERT
REPLY = DeliveryKind.THREAD_REPLY


async def bind(session: AsyncSession, channel: str, at: datetime) -> BindingRecord:
    """`channel` bound to workspace 7 at `at`, in the session's transaction."""
    return await BindingRepository(session).upsert(
        team_id=TEAM,
        channel_id=channel,
        workspace_id=7,
        workspace_name=None,
        token_ciphertext=None,
        created_by="U1",
        now=at,
    )


async def past_episode(db: Database, channel: str, closed: datetime) -> None:
    """A failure episode of `channel` (bound here) that ended at `closed`."""
    async with db.session() as session:
        binding = await bind(session, channel, closed)
        session.add(
            PastEpisode(
                binding_id=binding.id,
                backup_id=456,
                first_snapshot_id=1,
                failures=2,
                since=closed,
                last_snapshot_id=2,
                last_failed_at=closed,
                recovered_snapshot_id=3,
                recovered_at=closed,
                closed_at=closed,
            )
        )


async def past_episode_channels(db: Database) -> set[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Binding.channel_id).join(PastEpisode, PastEpisode.binding_id == Binding.id)
        )
        return set(rows.all())
