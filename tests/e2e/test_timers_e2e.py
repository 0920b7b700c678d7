"""Timed mutes and maintenance windows end by themselves, once, through the real app.

The real bot over HTTP (alert interval 0.3 s), the simulator's scheduler, the fake Slack.
"""

from __future__ import annotations

import time

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from tests.constants import ADMIN, BACKUP, CHANNEL
from tests.e2e.backup_kit import (
    assert_valid_payloads,
    button,
    click,
    click_and_reply,
    connect,
    rendered,
)
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready, failures_told

ENABLE = "POST /workspaces/{workspaceId}/backups/{backupId}/schedule/enable"


def _posted(stack: Stack, words: str) -> list[PostedMessage]:
    return [m for m in stack.slack.messages(CHANNEL) if words in m.text]


async def test_a_timed_mute_silences_then_ends_with_a_note(stack: Stack) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    started = time.monotonic()
    await stack.command(f"alerts mute {BACKUP} for 6s", user=ADMIN)
    [notice] = await wait_until(lambda: _posted(stack, "muted failure alerts"), what="the notice")
    assert f"Mute of *Nightly CRM* ({BACKUP}) ends" in rendered(await stack.reply_to("status"))
    button({"blocks": notice.blocks}, ActionId.UNMUTE_BACKUP)

    during = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await stack.bot.after_ticks(3)
    assert alerts_in(stack.slack, CHANNEL, during.id) == []

    ended = await wait_until(lambda: _posted(stack, "are back on"), what="the end note")
    assert time.monotonic() - started >= 6
    text = rendered({"text": ended[0].text, "blocks": ended[0].blocks})
    assert "*Nightly CRM* (456)" in text and f"muted by <@{ADMIN}> for 6s" in text
    status = await stack.reply_to("status")
    assert "Muted backups" not in rendered(status) and "Mute of" not in rendered(status)

    after = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    # An alert, or a reply in the thread of the backup's open failure episode.
    await wait_until(lambda: failures_told(stack.slack, CHANNEL, after.id), what="the next alert")
    await stack.bot.after_ticks(3)
    assert len(_posted(stack, "are back on")) == 1
    assert_valid_payloads(stack.slack)


async def test_a_maintenance_window_disables_then_enables_once(stack: Stack) -> None:
    await connect(stack)
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
    await stack.command(f"schedule {BACKUP} off for 2s", user=ADMIN)
    [opened] = await wait_until(lambda: _posted(stack, "for maintenance"), what="the start note")
    assert stack.sim.state.backup(123, BACKUP).scheduled is False
    button({"blocks": opened.blocks}, ActionId.END_WINDOW)
    shown = rendered(await stack.reply_to(f"schedule {BACKUP}"))
    assert f"Maintenance window of *Nightly CRM* ({BACKUP}) ends" in shown

    await wait_until(lambda: _posted(stack, "maintenance window"), what="the end note")
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
    await stack.bot.after_ticks(3)
    [ended] = _posted(stack, "maintenance window")
    assert "enabled again" in ended.text and f"<@{ADMIN}>" in ended.text
    assert stack.sim.state.call_counts().get(ENABLE, 0) == 1


async def test_a_window_whose_schedule_was_enabled_meanwhile_does_nothing(stack: Stack) -> None:
    await connect(stack)
    await stack.command(f"schedule {BACKUP} off for 2s", user=ADMIN)
    await wait_until(lambda: _posted(stack, "for maintenance"), what="the start note")
    # Enabled in Skyvia itself (a change through the bot closes the window: test_windows_e2e).
    stack.sim.state.set_schedule(123, BACKUP, active=True)
    [ended] = await wait_until(lambda: _posted(stack, "already enabled"), what="the end note")
    assert "nothing was done" in ended.text
    assert stack.sim.state.call_counts().get(ENABLE, 0) == 0


async def test_the_alerts_mute_menu_mutes_for_hours_and_end_window_now(stack: Stack) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    [alert] = await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="alert")
    message = {"text": alert.text, "blocks": alert.blocks, "ts": alert.ts}
    menu = button(message, ActionId.MUTE_BACKUP_FOR)
    labels = [o["text"]["text"] for o in menu["options"]]
    assert labels == ["Mute for 1 h", "Mute for 4 h", "Mute for 24 h", "Mute until unmuted"]
    await click(
        stack, message, ActionId.MUTE_BACKUP_FOR, user=ADMIN, value=menu["options"][1]["value"]
    )
    [notice] = await wait_until(lambda: _posted(stack, "muted failure alerts"), what="the notice")
    assert "until" in notice.text
    status = rendered(await stack.reply_to("status"))
    assert f"Mute of *Nightly CRM* ({BACKUP}) ends" in status

    await stack.command(f"schedule {BACKUP} off for 1d", user=ADMIN)
    [opened] = await wait_until(lambda: _posted(stack, "for maintenance"), what="the start note")
    message = {"text": opened.text, "blocks": opened.blocks, "ts": opened.ts}
    reply = await click_and_reply(stack, message, ActionId.END_WINDOW, user=ADMIN)
    assert "ends now" in reply["text"]
    await wait_until(lambda: _posted(stack, "window of"), what="the end note")
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
