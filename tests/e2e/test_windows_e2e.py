"""Maintenance windows belong to the backup: the latest end wins, and a person's change wins.

Issue 18 finding 3 and issue 19 item 8, through the real app over HTTP
(docs/reference/commands.md): a window's end must never undo what someone did by hand since,
nor turn a schedule on while another channel's window on that backup is still open; `status`
stops showing a window that a manual change closed.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from tests.constants import ADMIN, BACKUP, CHANNEL, OTHER_CHANNEL
from tests.e2e.backup_kit import click, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.faults.kit import messages_with, notes_with

ENABLE = "POST /workspaces/{workspaceId}/backups/{backupId}/schedule/enable"
STARTED = "for maintenance"
ENDED = "maintenance window of"
BY_HAND = "by hand"
SHOWN = re.compile(rf"Maintenance window of \*[^*]+\* \({BACKUP}\) ends")


def shown(message: dict[str, Any]) -> bool:
    """The pending end is listed, named as everywhere (by the name the bot knows, if any)."""
    return SHOWN.search(rendered(message)) is not None


def scheduled(stack: Stack) -> bool:
    return stack.sim.state.backup(123, BACKUP).scheduled


async def test_a_manual_on_then_off_closes_the_window_and_its_end_leaves_it_off(
    stack: Stack,
) -> None:
    await connect(stack)
    opened = time.monotonic()
    await stack.command(f"schedule {BACKUP} off for 3s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    assert shown(await stack.reply_to("status"))

    await stack.command(f"schedule {BACKUP} on", user=ADMIN)
    [closed] = await wait_until(lambda: messages_with(stack, CHANNEL, BY_HAND), what="the note")
    text = rendered(closed.__dict__)
    assert "*Nightly CRM* (456)" in text and f"<@{ADMIN}> turned the schedule on" in text
    assert not shown(await stack.reply_to("status"))
    assert not shown(await stack.reply_to(f"schedule {BACKUP}"))

    await stack.command(f"schedule {BACKUP} off", user=ADMIN)  # meant for good
    await wait_until(lambda: not scheduled(stack), what="the manual off")
    await asyncio.sleep(max(0.0, opened + 3 - time.monotonic()))  # past the window's end
    await stack.bot.after_ticks(3)
    assert scheduled(stack) is False
    assert stack.sim.state.call_counts().get(ENABLE, 0) == 1  # the manual on only
    assert len(notes_with(stack, CHANNEL, ENDED)) == 1  # the "by hand" note only


async def test_the_toggle_button_closes_the_window_too(stack: Stack) -> None:
    await connect(stack)
    await stack.command(f"schedule {BACKUP} off for 1d", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    card = await stack.reply_to(f"schedule {BACKUP}")
    assert shown(card)

    await click(stack, card, ActionId.SCHEDULE_TOGGLE, user=ADMIN, ephemeral=True)
    [closed] = await wait_until(lambda: messages_with(stack, CHANNEL, BY_HAND), what="the note")
    assert f"<@{ADMIN}> turned the schedule on" in rendered(closed.__dict__)
    assert scheduled(stack) is True
    assert not shown(await stack.reply_to("status"))


async def test_two_channels_windows_on_one_backup_end_at_the_latest_end(stack: Stack) -> None:
    await connect(stack)
    await connect(stack, OTHER_CHANNEL)
    await stack.command(f"schedule {BACKUP} off for 2s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the first window")
    await stack.command(f"schedule {BACKUP} off for 7s", user=ADMIN, channel=OTHER_CHANNEL)
    await wait_until(lambda: messages_with(stack, OTHER_CHANNEL, STARTED), what="the second")

    [short] = await wait_until(lambda: notes_with(stack, CHANNEL, ENDED), what="its end")
    assert "stays off" in short.text, short.text
    assert scheduled(stack) is False
    await stack.bot.after_ticks(3)
    assert scheduled(stack) is False

    [long] = await wait_until(lambda: notes_with(stack, OTHER_CHANNEL, ENDED), what="the end")
    assert "enabled again" in long.text
    assert scheduled(stack) is True
    assert stack.sim.state.call_counts().get(ENABLE, 0) == 1
