"""The outbox end to end: a message owed before a kill is sent once after the restart.

The watcher records the finished run and owes its reply in the outbox; only the sender posts.
Here the sender cannot post it yet (the channel's pace is spent), the process is killed, and a
new process on the same database sends it: once, with nothing else repeated.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot.devtools.waiting import wait_until
from storage.db import Database
from storage.models import Delivery, DeliveryKind, DeliveryStatus
from storage.repositories._sql import db_now
from storage.repositories.outbox import Outbox, OutboxEntry
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import (
    alerts_in,
    carded_watch,
    cursors_ready,
    kind_of,
    thread_replies,
    watch_row,
)


async def done_watch(db: Database, snapshot_id: int) -> bool:
    watch = await watch_row(db, snapshot_id, CHANNEL)
    return watch is not None and not watch.is_pending


async def reply_status(db: Database, snapshot_id: int) -> str | None:
    async with db.session() as session:
        status = await session.scalar(
            select(Delivery.status).where(
                Delivery.snapshot_id == snapshot_id, Delivery.kind == DeliveryKind.THREAD_REPLY
            )
        )
    return None if status is None else str(status)


async def test_a_reply_owed_when_the_bot_is_killed_is_posted_once_after_restart(
    procs: ProcessStack,
) -> None:
    # Four posts per channel, then one every ten minutes: the "connected" note, the two cards
    # and the first reply spend them, the second reply must wait.
    procs.env["SKYVIA_BOT_SLACK_PACE"] = "channel=1/600+4"
    bot, send = await procs.start()
    await procs.connect(send)
    procs.sim.state.set_speed(1)  # runs stay in progress until the test finishes them
    runs = []
    for backup in (BACKUP, BACKUP + 1):
        before = {s.id for s in procs.sim.state.snapshots_of(backup)}
        await send.slash_command(f"snapshot {backup}", user_id=MEMBER, channel_id=CHANNEL)
        runs.append(
            await wait_until(
                lambda b=before, k=backup: next(
                    (s for s in procs.sim.state.snapshots_of(k) if s.id not in b), None
                ),
                what="a new run",
            )
        )
    watches = [
        await wait_until(lambda r=run: carded_watch(procs.db, r.id, CHANNEL), what="a watch")
        for run in runs
    ]
    procs.sim.state.finish_snapshot(runs[0].id, "Succeeded")
    await wait_until(
        lambda: thread_replies(procs.slack, CHANNEL, watches[0].message_ts), what="first reply"
    )
    procs.sim.state.finish_snapshot(runs[1].id, "Failed")
    await wait_until(  # the state change is recorded...
        lambda: done_watch(procs.db, runs[1].id), what="the second watch to finish"
    )
    assert await reply_status(procs.db, runs[1].id) == DeliveryStatus.PENDING  # ...and owed
    await procs.after_ticks()
    assert thread_replies(procs.slack, CHANNEL, watches[1].message_ts) == []
    bot.kill()

    procs.env["SKYVIA_BOT_SLACK_PACE"] = "channel=1/1+1"
    await procs.start()
    await wait_until(
        lambda: thread_replies(procs.slack, CHANNEL, watches[1].message_ts),
        timeout=30,
        what="the owed reply after the restart",
    )
    await procs.after_ticks()
    assert len(thread_replies(procs.slack, CHANNEL, watches[0].message_ts)) == 1
    second = thread_replies(procs.slack, CHANNEL, watches[1].message_ts)
    assert len(second) == 1 and second[0].reply_broadcast
    assert await reply_status(procs.db, runs[1].id) == DeliveryStatus.SENT


async def test_status_says_when_the_channels_messages_wait_behind_slacks_limits(
    stack: Stack,
) -> None:
    await connect(stack)
    db = stack.bot.container.db
    quiet = await stack.reply_to("status")
    assert "queued behind" not in rendered(quiet)
    # Three messages owed a while ago and held back (as by a 429's Retry-After).
    entries = [
        OutboxEntry((TEAM, CHANNEL, 9000 + n, "alert"), 0, '{"m":{"text":"x"}}') for n in range(3)
    ]
    async with db.session() as session:
        await Outbox(session).enqueue_many(entries, owner="worker:test")
        await session.execute(
            update(Delivery)
            .where(Delivery.snapshot_id >= 9000)
            .values(
                claimed_at=db_now(session, plus_seconds=-150),
                not_before=db_now(session, plus_seconds=3600),
            )
        )
    status = rendered(await stack.reply_to("status"))
    assert "3 messages for this channel are queued behind Slack's rate limits" in status
    assert "2m 30s" in status or "2m 31s" in status
    other = rendered(await stack.reply_to("status", channel=OTHER_CHANNEL))
    assert "queued behind" not in other


async def test_a_recovery_while_its_alert_waits_in_the_outbox_replies_in_its_thread(
    stack: Stack,
) -> None:
    """Slack holds the alert back (429 + Retry-After) while the backup already succeeds again:
    the recovery waits for the alert's thread instead of closing the episode unsaid."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    stack.slack.fail_next("chat.postMessage", retry_after=4)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: [c for c in stack.slack.calls_to("chat.postMessage") if c.status == 429],
        what="the alert held back by a 429",
    )
    good = stack.sim.state.run_scheduled_now(BACKUP)
    [alert] = await wait_until(
        lambda: alerts_in(stack.slack, CHANNEL, failed.id), timeout=30, what="the alert"
    )
    [recovered] = await wait_until(
        lambda: [m for m in stack.slack.thread(CHANNEL, alert.ts) if kind_of(m) == "recovered"],
        timeout=30,
        what="the recovery in the alert's thread",
    )
    assert f"snapshot {good.id} succeeded" in recovered.text
    await wait_until(
        lambda: "recovered" in stack.slack.message(CHANNEL, alert.ts).text,
        timeout=30,
        what="the header turned to recovered",
    )


async def test_fresh_again_while_the_stale_alert_waits_in_the_outbox_replies_in_its_thread(
    stack: Stack,
) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    stack.slack.fail_next(  # the stale alert is held back, not the command's own notice
        "chat.postMessage", retry_after=4, when=lambda args: "stale" in str(args.get("metadata"))
    )
    await stack.command(f"alerts stale {BACKUP} 10m", user=ADMIN)
    await wait_until(
        lambda: [
            c
            for c in stack.slack.calls_to("chat.postMessage")
            if c.status == 429 and (c.args.get("metadata") or {}).get("event_payload")
        ],
        what="the stale alert held back by a 429",
    )
    good = stack.sim.state.run_scheduled_now(BACKUP)
    [alert] = await wait_until(
        lambda: [
            m for m in stack.slack.messages(CHANNEL) if not m.is_reply and kind_of(m) == "stale"
        ],
        timeout=30,
        what="the stale alert",
    )
    [fresh] = await wait_until(
        lambda: [m for m in stack.slack.thread(CHANNEL, alert.ts) if kind_of(m) == "fresh"],
        timeout=30,
        what="fresh again in the stale alert's thread",
    )
    assert f"snapshot {good.id} succeeded" in fresh.text


async def test_a_deleted_alert_makes_the_next_failure_a_new_alert(stack: Stack) -> None:
    """Someone deleted the alert: the reply of the next failure finds no thread, and the one
    after it is a new top-level alert, not more replies into a thread nobody can see."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    first = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, first.id), what="the first alert")
    stack.slack.fail_next(
        "chat.postMessage", "thread_not_found", status=200, when=lambda a: "thread_ts" in a
    )
    second = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: [c for c in stack.slack.calls_to("chat.postMessage") if c.error],
        what="the reply refused: thread_not_found",
    )
    third = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: alerts_in(stack.slack, CHANNEL, third.id), timeout=30, what="a new alert"
    )
    assert len(alerts_in(stack.slack, CHANNEL)) == 2
    assert second.id not in {
        a.metadata["event_payload"]["snapshot_id"] for a in alerts_in(stack.slack, CHANNEL)
    }  # type: ignore[index]
