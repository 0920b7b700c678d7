"""Issue 5: a kill -9 at any point loses no reply or alert and duplicates none.

See docs/reference/guarantees.md#exactly-once.

Two kinds of test:
- the bot as a child process, SIGKILLed while a snapshot runs and while alerts go out, then
  started again on the same database;
- the exact moment between "Slack posted it" and "the ledger recorded it", rebuilt by hand
  (a stale claim in the ledger, with or without the message in Slack), for the in-process bot.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.waiting import wait_until
from bot.slack.delivery.keys import DeliveryKey
from storage.models import DeliveryStatus
from storage.repositories import DeliveryLedger
from tests.constants import BACKUP, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect
from tests.e2e.bot_fixtures import Stack
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import (
    alerts_in,
    carded_watch,
    cursors_ready,
    finished_watch,
    thread_replies,
)


async def test_killed_while_a_snapshot_runs_replies_once_after_restart(
    procs: ProcessStack,
) -> None:
    bot, send = await procs.start()
    await procs.connect(send)
    procs.sim.state.set_speed(1)  # the run stays in progress until we finish it
    await send.slash_command(f"snapshot {BACKUP}", user_id=MEMBER, channel_id=CHANNEL)
    run = await wait_until(
        lambda: next((s for s in procs.sim.state.snapshots_of(BACKUP) if s.id >= 7001), None),
        what="the run",
    )
    watch = await wait_until(lambda: carded_watch(procs.db, run.id, CHANNEL), what="the watch")
    # Let it poll at least once (the card moves on), then kill it mid-watch.
    await procs.slack.wait_for("chat.update", lambda c: c.ok and c.args["ts"] == watch.message_ts)
    bot.kill()

    procs.sim.state.finish_snapshot(run.id, "Failed")
    await procs.start()
    finished = await finished_watch(procs.db, run.id, CHANNEL)
    assert finished.outcome == "Failed"
    await procs.after_ticks()
    replies = thread_replies(procs.slack, CHANNEL, watch.message_ts)
    assert len(replies) == 1 and replies[0].reply_broadcast
    # Its own failed run: the thread only, no top-level alert in the watching channel.
    assert alerts_in(procs.slack, CHANNEL) == []


async def test_killed_while_alerts_go_out_each_channel_gets_one_after_restart(
    procs: ProcessStack,
) -> None:
    bot, send = await procs.start()
    channels = [CHANNEL, OTHER_CHANNEL, "C0THIRD", "C0FOURTH"]
    for channel in channels:
        await procs.connect(send, channel)
    await cursors_ready(procs.db)
    # Slow posts: the kill lands while some alerts are out and others are still due.
    procs.slack.set_latency(0.3)
    failed = procs.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: any(alerts_in(procs.slack, c, failed.id) for c in channels), what="a first alert"
    )
    bot.kill()
    procs.slack.set_latency(0)

    await procs.start()
    for channel in channels:
        await wait_until(
            lambda c=channel: alerts_in(procs.slack, c, failed.id), timeout=30, what=channel
        )
    await procs.after_ticks()
    assert [len(alerts_in(procs.slack, c, failed.id)) for c in channels] == [1, 1, 1, 1]


async def _stale_claim(stack: Stack, key: DeliveryKey) -> None:
    async with stack.bot.container.db.session() as session:
        claimed = await DeliveryLedger(session).claim_many(
            [key.ledger_key], owner="worker:crashed-host:1:dead", age=300
        )
    assert claimed == {key.ledger_key}


async def _start_watched_run(stack: Stack) -> tuple[int, str]:
    await connect(stack)
    stack.sim.state.set_speed(1)
    await stack.command(f"snapshot {BACKUP}", user=MEMBER)
    run = await wait_until(
        lambda: next((s for s in stack.sim.state.snapshots_of(BACKUP) if s.id >= 7001), None)
    )
    watch = await wait_until(lambda: carded_watch(stack.bot.container.db, run.id, CHANNEL))
    return run.id, watch.message_ts


async def test_crash_after_posting_before_recording_is_not_posted_again(stack: Stack) -> None:
    snapshot_id, card_ts = await _start_watched_run(stack)
    key = DeliveryKey(TEAM, CHANNEL, snapshot_id, "thread_reply")
    await _stale_claim(stack, key)
    # What the crashed process managed to do: post the reply, with its key in the metadata.
    client = AsyncWebClient(token=stack.slack.bot_token, base_url=stack.slack.api_url)
    posted = await client.chat_postMessage(
        channel=CHANNEL,
        thread_ts=card_ts,
        text="the reply the crashed process posted",
        metadata=key.metadata(),
    )

    stack.sim.state.finish_snapshot(snapshot_id)
    watch = await finished_watch(stack.bot.container.db, snapshot_id, CHANNEL)
    assert watch.outcome == "Succeeded"
    assert [m.ts for m in stack.slack.thread(CHANNEL, card_ts)] == [posted["ts"]]
    assert any(c.method == "conversations.replies" for c in stack.slack.calls)
    async with stack.bot.container.db.session() as session:
        row = (await DeliveryLedger(session).get_many([key.ledger_key])).get(key.ledger_key)
    assert row is not None and row.status == DeliveryStatus.SENT and row.message_ts == posted["ts"]
    assert "succeeded" in stack.slack.message(CHANNEL, card_ts).text  # the card still moved on


async def test_crash_after_claiming_before_posting_is_posted_once(stack: Stack) -> None:
    snapshot_id, card_ts = await _start_watched_run(stack)
    await _stale_claim(stack, DeliveryKey(TEAM, CHANNEL, snapshot_id, "thread_reply"))
    stack.sim.state.finish_snapshot(snapshot_id)
    await finished_watch(stack.bot.container.db, snapshot_id, CHANNEL)
    replies = thread_replies(stack.slack, CHANNEL, card_ts)
    assert len(replies) == 1 and "Succeeded" in replies[0].blocks[0]["text"]["text"]
