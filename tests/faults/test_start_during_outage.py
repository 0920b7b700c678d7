"""A snapshot is started only when the bot can record it, so every run it starts is followed.

Issue 18, finding 0: a soak on PostgreSQL saw `/skyvia snapshot` start a run in Skyvia while the
database was down; recording its watch failed three times in 1.5 s and its outcome never reached
the channel. The binding is read at the start of the command, so the database must have gone away
while the bot waited on Skyvia (checking the backup, then starting the run).

Here the database (a private PostgreSQL cluster the test stops, never the shared one) goes away
at exactly those two moments, through the real app over HTTP with the Slack stand-in and the
simulator:

- while the bot checks the backup's active run, and stays away: nothing is started, and the user
  is told that plainly (nothing to follow, nothing to undo);
- while Skyvia starts the run, and comes back a few seconds later: the bot holds the run's record
  until it can write it, so the run is watched and its outcome reaches the card's thread.

See docs/reference/guarantees.md#a-snapshot-started-from-slack.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.devtools.private_postgres import PrivatePostgres
from bot.devtools.waiting import wait_until
from storage.db import upgrade_async
from tests.constants import BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import finished_watch, thread_replies

ACTIVE = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/active"
CREATE = "POST /workspaces/{workspaceId}/backups/{backupId}/snapshots"
SKYVIA_WAIT = 2.0
"""How long the simulator holds its answer (after acting): the database is stopped meanwhile."""
DOWN = 5.0
"""The second test's outage: longer than the 1.5 s the bot used to retry its record for."""


@pytest.fixture
async def database_url(private_postgres: PrivatePostgres) -> str:
    """The bot's database is the test's own cluster, which the test stops."""
    url = private_postgres.url()
    await upgrade_async(url)
    return url


async def _stop_during(stack: Stack, cluster: PrivatePostgres, endpoint: str, calls: int) -> None:
    """Stops the database once the bot's `calls`-th call to `endpoint` reached Skyvia."""
    await wait_until(lambda: stack.sim.state.call_counts().get(endpoint, 0) >= calls, what=endpoint)
    await asyncio.to_thread(cluster.stop, "fast")


@pytest.mark.e2e
@pytest.mark.timeout(90)
async def test_database_gone_before_the_start_starts_nothing_and_says_so(
    stack: Stack, private_postgres: PrivatePostgres
) -> None:
    await connect(stack)
    runs_before = len(stack.sim.state.snapshots_of(BACKUP))
    calls = stack.sim.state.call_counts().get(ACTIVE, 0) + 1
    stack.sim.state.add_latency(SKYVIA_WAIT, endpoint=ACTIVE, count=1)

    response_id = await stack.command(f"snapshot {BACKUP}", user=MEMBER)
    await _stop_during(stack, private_postgres, ACTIVE, calls)
    answers = await stack.slack.wait_for_responses(response_id, count=1, timeout=30)

    said = rendered(answers[0].body)
    assert len(stack.sim.state.snapshots_of(BACKUP)) == runs_before, "a run was started"
    assert stack.sim.state.call_counts().get(CREATE, 0) == 0
    assert "nothing was started" in said, said
    assert "database is unavailable" in said, said
    assert "Try again" in said, said


@pytest.mark.e2e
@pytest.mark.timeout(120)
async def test_database_gone_while_the_run_starts_is_waited_for_and_the_run_followed(
    stack: Stack, private_postgres: PrivatePostgres
) -> None:
    await connect(stack)
    stack.sim.state.set_speed(5)
    runs_before = len(stack.sim.state.snapshots_of(BACKUP))
    stack.sim.state.add_latency(SKYVIA_WAIT, endpoint=CREATE, count=1)

    response_id = await stack.command(f"snapshot {BACKUP}", user=MEMBER)
    await _stop_during(stack, private_postgres, CREATE, 1)
    await asyncio.sleep(DOWN)
    await asyncio.to_thread(private_postgres.start)

    await wait_until(
        lambda: len(stack.sim.state.snapshots_of(BACKUP)) > runs_before, what="the run"
    )
    run = stack.sim.state.snapshots_of(BACKUP)[-1]
    watch = await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    assert watch.message_ts is not None
    replies = await wait_until(
        lambda: thread_replies(stack.slack, CHANNEL, watch.message_ts or ""), what="the outcome"
    )
    assert len(replies) == 1
    said = [rendered(p.body) for p in stack.slack.responses(response_id)]
    assert not any("will not follow" in s for s in said), said
