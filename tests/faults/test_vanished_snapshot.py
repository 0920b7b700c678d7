"""A watched snapshot that Skyvia no longer knows ends its watch; an outage ends in time.

Issue 9, finding 4, through the real bot over HTTP with the Slack stand-in and the simulator.
A 404 for one watched snapshot is that watch's own error: the watch ends with a note in the
card's thread and a final card, and the workspace's other work is not held back. The watcher
and the alert scanner back off on their own, and once Skyvia answers again new work is done
within about one interval.
"""

from __future__ import annotations

import asyncio
import time

from bot.devtools.waiting import wait_until
from tests.constants import BACKUP, CHANNEL
from tests.e2e.backup_kit import SNAPSHOT, SNAPSHOTS, connect, rendered
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.worker_kit import alerts_in, cursors_ready, finished_watch, thread_replies
from tests.faults.kit import start_snapshot

OTHER_BACKUP = BACKUP + 1


async def test_a_vanished_snapshot_ends_its_watch_with_a_note_and_a_final_card(
    stack: Stack,
) -> None:
    await connect(stack)
    # Simulated time all but stands still, so the run cannot end on its own while its card
    # waits for the channel's turn (the "connected" note just spent it): it must vanish here.
    stack.sim.state.set_speed(0.001)
    run, card = await start_snapshot(stack)
    del stack.sim.state.snapshots[run.id]  # Skyvia answers 404 for it from now on

    watch = await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    assert watch.outcome == "vanished"
    notes = stack.slack.thread(CHANNEL, card.ts)
    assert len(notes) == 1
    assert "no longer" in rendered(notes[0].__dict__)
    final = stack.slack.message(CHANNEL, card.ts)
    assert "not found in Skyvia" in final.text

    # The 404 held back nothing else of the workspace: a run started now is reported at once.
    started = time.monotonic()
    other, other_card = await start_snapshot(stack, OTHER_BACKUP)
    stack.sim.state.finish_snapshot(other.id)
    await finished_watch(stack.bot.container.db, other.id, CHANNEL)
    assert thread_replies(stack.slack, CHANNEL, other_card.ts)
    assert time.monotonic() - started < 5 * stack.bot.settings.watch_interval + 3

    # The ended watch is polled no more and its thread gets nothing further.
    polls = stack.sim.state.call_counts().get(SNAPSHOT, 0)
    await stack.bot.after_ticks(3)
    assert stack.sim.state.call_counts().get(SNAPSHOT, 0) == polls
    assert len(stack.slack.thread(CHANNEL, card.ts)) == 1


async def test_after_a_skyvia_outage_new_work_arrives_within_about_an_interval(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_BOT_WATCH_INTERVAL=1.0, SKYVIA_BOT_ALERT_INTERVAL=1.0)
    interval = 1.0
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    pending, pending_card = await start_snapshot(stack)

    # An outage: every Skyvia call answers 503, seen by the watcher and the alert scanner.
    counts = stack.sim.state.call_counts
    before = counts()
    stack.sim.state.inject_errors(503)
    await wait_until(
        lambda: (
            counts().get(SNAPSHOT, 0) > before.get(SNAPSHOT, 0)
            and counts().get(SNAPSHOTS, 0) > before.get(SNAPSHOTS, 0)
        ),
        what="both workers meeting the outage",
    )
    await asyncio.sleep(6 * interval)  # the outage lasts a while
    stack.sim.state.clear_faults()
    ended = time.monotonic()

    stack.sim.state.finish_snapshot(pending.id)
    failed = stack.sim.state.run_scheduled_now(OTHER_BACKUP, fail=True)
    fresh, fresh_card = await start_snapshot(stack, BACKUP + 2)
    stack.sim.state.finish_snapshot(fresh.id)

    bound = 2 * interval + 3  # about one interval, plus one client retry and the posts
    await wait_until(
        lambda: thread_replies(stack.slack, CHANNEL, pending_card.ts),
        timeout=bound,
        what="the outcome of the run watched through the outage",
    )
    await wait_until(
        lambda: thread_replies(stack.slack, CHANNEL, fresh_card.ts),
        timeout=bound,
        what="the outcome of a run started after the outage",
    )
    await wait_until(
        lambda: alerts_in(stack.slack, CHANNEL, failed.id),
        timeout=bound,
        what="the alert of a failure after the outage",
    )
    assert time.monotonic() - ended < 2 * bound
