"""Failure episodes stay exactly once when the bot is killed mid-way or runs as two replicas.

Each reply, header edit and recovery has its own ledger key and the episode row is written
before it is announced, so a SIGKILL between any two steps, or a second replica scanning the
same backup, adds nothing twice and loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from tests.constants import BACKUP, CHANNEL, OTHER_CHANNEL
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import alerts_in, cursors_ready, kind_of

CHANNELS = [CHANNEL, OTHER_CHANNEL, "C0THIRD", "C0FOURTH"]


def _thread(procs: ProcessStack, channel: str, kind: str) -> list[PostedMessage]:
    [alert] = alerts_in(procs.slack, channel)
    return [m for m in procs.slack.thread(channel, alert.ts) if kind_of(m) == kind]


def _header(procs: ProcessStack, channel: str) -> str:
    [alert] = alerts_in(procs.slack, channel)
    return procs.slack.message(channel, alert.ts).text


async def _episode(procs: ProcessStack, *, kill: Callable[[], None] | None) -> None:
    """Failure, failure (killed while its replies go out), success; then checks each once."""
    first = procs.sim.state.run_scheduled_now(BACKUP, fail=True)
    for channel in CHANNELS:
        await wait_until(lambda c=channel: alerts_in(procs.slack, c, first.id), what="alerts")
    procs.slack.set_latency(0.3)  # slow posts: the kill lands with some replies out
    procs.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: any(_thread(procs, c, "episode_reply") for c in CHANNELS), what="a first reply"
    )
    if kill is not None:
        kill()
        procs.slack.set_latency(0)
        await procs.start()
    procs.slack.set_latency(0)
    for channel in CHANNELS:
        await wait_until(
            lambda c=channel: _thread(procs, c, "episode_reply"), timeout=30, what=channel
        )
    good = procs.sim.state.run_scheduled_now(BACKUP)
    for channel in CHANNELS:
        await wait_until(
            lambda c=channel: _thread(procs, c, "recovered"), timeout=30, what="recoveries"
        )
    for channel in CHANNELS:  # header edits go at chat.update's pace (Tier 3), after the replies
        await wait_until(
            lambda c=channel: "recovered" in _header(procs, c), timeout=30, what="headers"
        )
    await procs.after_ticks()
    for channel in CHANNELS:
        assert len(alerts_in(procs.slack, channel)) == 1
        assert len(_thread(procs, channel, "episode_reply")) == 1
        [recovered] = _thread(procs, channel, "recovered")
        assert f"snapshot {good.id} succeeded after 2 failures" in recovered.text
        assert "recovered after 2 failures" in _header(procs, channel)


async def test_killed_during_an_episode_each_channel_hears_each_step_once(
    procs: ProcessStack,
) -> None:
    bot, send = await procs.start()
    for channel in CHANNELS:
        await procs.connect(send, channel)
    await cursors_ready(procs.db)
    await _episode(procs, kill=bot.kill)


async def test_two_replicas_tell_an_episode_once(procs: ProcessStack, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database (SQLite is the single-process option)")
    _, send = await procs.start()
    await procs.start()
    for channel in CHANNELS:
        await procs.connect(send, channel)
    await cursors_ready(procs.db)
    await _episode(procs, kill=None)
