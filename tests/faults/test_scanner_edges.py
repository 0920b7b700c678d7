"""The failure scanner's edges: many failures, an empty backup listing, long runs.

The real bot over HTTP (alert interval 0.3 s) against the simulator, with failed runs pinned to
the wall clock (`tests.faults.pinned`) so that "ended after the cursor" means what it says.
"""

from __future__ import annotations

from datetime import timedelta

from bot.devtools.waiting import wait_until
from bot.skyvia.client import MAX_TAKE
from tests.constants import BACKUP, CHANNEL
from tests.e2e.backup_kit import BACKUPS, connect
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.worker_kit import alerts_in, cursors_ready
from tests.faults.pinned import pinned_failure, wall_now


async def test_the_oldest_of_more_than_a_page_of_failures_is_announced(stack: Stack) -> None:
    """A long run that ends after the cursor is found past 200 newer failures in the lookback."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    now = wall_now()
    # Ended before the channel was bound: listed (inside the lookback) but not announced.
    for n in range(MAX_TAKE + 20):
        started = now - timedelta(hours=2) + timedelta(seconds=20 * n)
        pinned_failure(stack.sim, BACKUP, started=started, ended=started + timedelta(seconds=5))
    # Started before all of them, so it sorts last; ended just now.
    long_run = pinned_failure(stack.sim, BACKUP, started=now - timedelta(hours=3), ended=now)

    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, long_run.id), what="the alert")
    await stack.bot.after_ticks(3)
    assert len(alerts_in(stack.slack, CHANNEL, long_run.id)) == 1
    assert len(alerts_in(stack.slack, CHANNEL)) == 1  # the others ended before the binding


async def test_an_empty_backup_listing_loses_no_failure(stack: Stack) -> None:
    """One empty answer to the backups listing used to delete every cursor of the workspace;
    they came back at "now", and a failure that ended in between was never announced."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    listed = stack.sim.state.backups_by_workspace[123]
    stack.sim.state.backups_by_workspace[123] = []
    stack.sim.state.reset_call_counts()
    # Re-listing comes every 10 alert intervals; two ticks after it, its answer was handled.
    await wait_until(
        lambda: stack.sim.state.call_counts().get(BACKUPS), timeout=20, what="a re-listing"
    )
    await stack.bot.after_ticks(2)
    stack.sim.state.backups_by_workspace[123] = listed
    ended = wall_now()
    failed = pinned_failure(stack.sim, BACKUP, started=ended - timedelta(seconds=30), ended=ended)

    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await stack.bot.after_ticks(3)
    assert len(alerts_in(stack.slack, CHANNEL, failed.id)) == 1


async def test_a_run_longer_than_the_watch_limit_is_announced(start_bot: StartBot) -> None:
    """The lookback used to be the watch give-up limit: with a short one, the failure of a run
    that had started before it (scheduled, not watched) was never listed."""
    stack = await start_bot(SKYVIA_BOT_WATCH_GIVE_UP="60")
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    ended = wall_now()
    failed = pinned_failure(stack.sim, BACKUP, started=ended - timedelta(minutes=30), ended=ended)

    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await stack.bot.after_ticks(3)
    assert len(alerts_in(stack.slack, CHANNEL, failed.id)) == 1
