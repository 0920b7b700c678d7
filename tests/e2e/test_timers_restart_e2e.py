"""Timers live in the database: a window's or a mute's end survives a SIGKILL and happens once
with two replicas (the bot as child processes on one database)."""

from __future__ import annotations

import asyncio

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from tests.constants import ADMIN, BACKUP, CHANNEL
from tests.e2e.process_kit import ProcessStack

ENABLE = "POST /workspaces/{workspaceId}/backups/{backupId}/schedule/enable"


def _posted(procs: ProcessStack, words: str) -> list[PostedMessage]:
    return [m for m in procs.slack.messages(CHANNEL) if words in m.text]


async def test_a_window_ends_once_after_the_bot_was_killed_during_it(procs: ProcessStack) -> None:
    bot, send = await procs.start()
    await procs.connect(send)
    await send.slash_command(f"schedule {BACKUP} off for 3s", user_id=ADMIN, channel_id=CHANNEL)
    await wait_until(lambda: _posted(procs, "for maintenance"), what="the start note")
    assert procs.sim.state.backup(123, BACKUP).scheduled is False
    bot.kill()
    await asyncio.sleep(3.5)  # the end is due while no bot runs
    assert procs.sim.state.backup(123, BACKUP).scheduled is False

    await procs.start()
    await wait_until(lambda: _posted(procs, "window of"), timeout=30, what="the end note")
    await procs.after_ticks()
    assert len(_posted(procs, "window of")) == 1
    assert procs.sim.state.backup(123, BACKUP).scheduled is True
    assert procs.sim.state.call_counts().get(ENABLE, 0) == 1


async def test_two_replicas_end_a_window_and_a_mute_once(procs: ProcessStack) -> None:
    _, send = await procs.start()
    await procs.start()
    await procs.connect(send)
    await send.slash_command(f"schedule {BACKUP} off for 2s", user_id=ADMIN, channel_id=CHANNEL)
    await send.slash_command(f"alerts mute {BACKUP} for 2s", user_id=ADMIN, channel_id=CHANNEL)
    await wait_until(lambda: _posted(procs, "window of"), timeout=30, what="the window's end")
    await wait_until(lambda: _posted(procs, "are back on"), timeout=30, what="the mute's end")
    await procs.after_ticks(3)
    assert len(_posted(procs, "window of")) == 1
    assert len(_posted(procs, "are back on")) == 1
    assert procs.sim.state.call_counts().get(ENABLE, 0) == 1
