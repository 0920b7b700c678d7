"""Timers through the real app when things go wrong: Slack's answer lost, the binding changed,
Skyvia refusing the window's credentials.

Issue 18, findings 2, 4 and 5: the real bot over HTTP with the Slack stand-in and the simulator.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.devtools.waiting import wait_until
from storage.models import Timer
from tests.constants import ADMIN, BACKUP, CHANNEL
from tests.e2e.backup_kit import connect
from tests.e2e.bot_fixtures import Stack
from tests.faults.kit import messages_with

STARTED = "for maintenance"
ENDED = "maintenance window"


async def pending_timers(stack: Stack) -> list[Timer]:
    async with stack.bot.container.db.session() as session:
        return list(await session.scalars(select(Timer)))


async def no_timers_left(stack: Stack) -> bool:
    return await pending_timers(stack) == []


async def test_a_window_note_slack_stored_before_failing_is_posted_once(stack: Stack) -> None:
    """Slack stores the end note, answers 500, and the read-back fails too: the retry (one
    claim's staleness later) reads the channel back under the same key and finds the note,
    rather than claiming a new key and posting it again."""
    await connect(stack)
    await stack.command(f"schedule {BACKUP} off for 2s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    stack.slack.fail_next("chat.postMessage", "internal_error", status=500, after_acting=True)
    stack.slack.fail_next("conversations.history", "internal_error", status=500, times=3)

    await wait_until(lambda: messages_with(stack, CHANNEL, ENDED), what="the end note")
    await wait_until(lambda: no_timers_left(stack), what="the timer settled", timeout=40)
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
    assert len(messages_with(stack, CHANNEL, ENDED)) == 1
