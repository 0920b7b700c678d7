"""Helpers for the watcher and alert scanner e2e tests: waiting, rows, alerts in a channel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.devtools.slack_standin import FakeSlack, PostedMessage
from bot.devtools.waiting import wait_until
from bot.simulator.records import SimSnapshot
from storage.db import Database
from storage.models import Delivery, DeliveryStatus, Watch
from storage.records import BindingRecord
from storage.repositories import AlertCursorRepository, BindingRepository, WatchRepository
from tests.constants import BACKUP, SEED_BACKUPS, TEAM
from tests.e2e.bot_fixtures import Stack


async def binding_row(db: Database, channel: str) -> BindingRecord | None:
    async with db.session() as session:
        return await BindingRepository(session).get(TEAM, channel)


async def paused_binding(db: Database, channel: str) -> BindingRecord | None:
    binding = await binding_row(db, channel)
    return binding if binding is not None and binding.is_paused else None


async def watch_row(db: Database, snapshot_id: int, channel: str) -> Watch | None:
    async with db.session() as session:
        return await WatchRepository(session).get_for_snapshot(TEAM, channel, snapshot_id)


async def carded_watch(db: Database, snapshot_id: int, channel: str) -> Watch | None:
    """The channel's watch of a snapshot once its card's `ts` is recorded (it comes after the
    watch itself), else None."""
    watch = await watch_row(db, snapshot_id, channel)
    return watch if watch is not None and watch.message_ts is not None else None


async def owed(db: Database, snapshot_id: int, channel: str) -> int:
    """Messages about `snapshot_id` in `channel` still in the outbox (queued or being sent)."""
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.team_id == TEAM,
                Delivery.channel_id == channel,
                Delivery.snapshot_id == snapshot_id,
                Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.CLAIMED]),
            )
        )
    return int(count or 0)


async def finished_watch(db: Database, snapshot_id: int, channel: str) -> Watch:
    """The watch once it finished and the sender sent what it owed (its reply, its card)."""

    async def done() -> Watch | None:
        watch = await watch_row(db, snapshot_id, channel)
        if watch is None or watch.is_pending:
            return None
        return watch if await owed(db, snapshot_id, channel) == 0 else None

    # After a kill the dead process's sending lease and claims must expire first.
    return await wait_until(done, timeout=30, what=f"the watch of {snapshot_id} to finish")  # type: ignore[no-any-return]


async def cursors_ready(
    db: Database, workspace_id: int = 123, count: int = len(SEED_BACKUPS)
) -> None:
    async def ready() -> bool:
        async with db.session() as session:
            cursors = await AlertCursorRepository(session).list_for_workspace(workspace_id)
        return len(cursors) >= count

    await wait_until(ready, what=f"cursors of workspace {workspace_id}'s backups")


def kind_of(message: PostedMessage) -> str | None:
    return ((message.metadata or {}).get("event_payload") or {}).get("kind")


def alerts_in(
    slack: FakeSlack, channel: str, snapshot_id: int | None = None
) -> list[PostedMessage]:
    """Top-level failure alerts the workers posted in `channel` (by their metadata)."""
    return [
        m
        for m in slack.messages(channel)
        if not m.is_reply
        and kind_of(m) == "alert"
        and (snapshot_id is None or m.metadata["event_payload"]["snapshot_id"] == snapshot_id)
    ]


def failures_told(slack: FakeSlack, channel: str, snapshot_id: int) -> list[PostedMessage]:
    """How `channel` heard of a failed snapshot: its alert, or, while the backup's failure
    episode is open, a reply in that alert's thread (by their metadata)."""
    return [
        m
        for m in slack.messages(channel)
        if kind_of(m) in ("alert", "episode_reply")
        and m.metadata is not None
        and m.metadata["event_payload"]["snapshot_id"] == snapshot_id
    ]


def thread_replies(slack: FakeSlack, channel: str, parent_ts: str) -> list[PostedMessage]:
    return [m for m in slack.thread(channel, parent_ts) if kind_of(m) == "thread_reply"]


def long_run(stack: Stack, *, by_schedule: bool = True) -> SimSnapshot:
    """A run of the backup that started two hours ago and goes on until the test ends it."""
    state = stack.sim.state
    state.set_speed(1)  # the run stays in progress until the test finishes it
    # The backup's history moves 3 h back: by its 6 h cadence, a scheduled run is due by now.
    state.age_runs(BACKUP, timedelta(hours=3))
    run = state.run_scheduled_now(BACKUP) if by_schedule else state.start_snapshot(BACKUP)
    return state.hold_running(run.id, timedelta(hours=2, minutes=10))
