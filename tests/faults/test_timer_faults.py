"""Timers through the real app when things go wrong: Slack's answer lost, the binding changed,
Skyvia refusing the window's credentials.

Issue 18, findings 2, 4 and 5: the real bot over HTTP with the Slack stand-in and the simulator.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from storage.models import Timer
from tests.constants import ADMIN, BACKUP, CHANNEL, TEAM
from tests.e2e.backup_kit import click, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import binding_row
from tests.faults.kit import messages_with, notes_with

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

    await wait_until(lambda: notes_with(stack, CHANNEL, ENDED), what="the end note")
    await wait_until(lambda: no_timers_left(stack), what="the timer settled", timeout=40)
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
    assert len(notes_with(stack, CHANNEL, ENDED)) == 1


async def test_disconnect_asks_first_and_the_window_still_ends_after_it(stack: Stack) -> None:
    """Finding 2: `disconnect` with a window open used to drop its end (456 off forever)."""
    await connect(stack)
    await stack.command(f"schedule {BACKUP} off for 4s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    await stack.command(f"alerts mute {BACKUP + 1}", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, "muted failure alerts"), what="mute")

    ask = await stack.reply_to("disconnect", user=ADMIN)
    asked = rendered(ask)
    assert "maintenance window" in asked and "Nightly CRM" in asked and "457" in asked
    assert await binding_row(stack.bot.container.db, CHANNEL) is not None  # nothing done yet

    await click(stack, ask, ActionId.CONFIRM_DISCONNECT, user=ADMIN, ephemeral=True)
    await wait_until(lambda: messages_with(stack, CHANNEL, "disconnected"), what="the notice")
    assert await binding_row(stack.bot.container.db, CHANNEL) is None
    [ended] = await wait_until(lambda: notes_with(stack, CHANNEL, ENDED), what="the end")
    assert "enabled again" in ended.text
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
    await wait_until(lambda: no_timers_left(stack), what="the timer finished")


async def test_a_rebound_channel_ends_its_window_in_the_old_workspace_and_drops_its_mute(
    stack: Stack,
) -> None:
    """Finding 2: after `connect 124` the window's end went to workspace 124 (404 forever) and
    the mute's end told the channel of workspace 124 that 456's alerts were back on."""
    await connect(stack)
    await stack.command(f"schedule {BACKUP} off for 4s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    await stack.command(f"alerts mute {BACKUP} for 4s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, "muted failure alerts"), what="mute")

    ask = await stack.reply_to("connect 124", user=ADMIN)
    await click(stack, ask, ActionId.CONFIRM_CONNECT, user=ADMIN, ephemeral=True)
    binding = await wait_until(
        lambda: bound_to(stack, 124), what="the channel bound to workspace 124"
    )
    assert binding

    [ended] = await wait_until(lambda: notes_with(stack, CHANNEL, ENDED), what="the end")
    assert "enabled again" in ended.text
    assert stack.sim.state.backup(123, BACKUP).scheduled is True
    await wait_until(lambda: no_timers_left(stack), what="every timer settled")
    await stack.bot.after_ticks(3)
    assert messages_with(stack, CHANNEL, "are back on") == []


async def bound_to(stack: Stack, workspace_id: int) -> bool:
    row = await binding_row(stack.bot.container.db, CHANNEL)
    return row is not None and row.workspace_id == workspace_id


SCHEDULE_GET = "GET /workspaces/{workspaceId}/backups/{backupId}/schedule"
OWN_TOKEN = "own-token-of-the-window"
COULD_NOT = "could not turn the schedule"


async def test_a_window_whose_token_skyvia_rejects_ends_with_a_note_not_endless_retries(
    stack: Stack,
) -> None:
    """Finding 5: a rejected token was retried every interval forever, the channel never told."""
    stack.sim.state.add_token(OWN_TOKEN, [123])
    await stack.bot.container.bindings.connect(
        team_id=TEAM, channel_id=CHANNEL, workspace_id=123, token=OWN_TOKEN, user_id=ADMIN
    )
    await stack.command(f"schedule {BACKUP} off for 2s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    stack.sim.state.remove_token(OWN_TOKEN)  # revoked in Skyvia

    [note] = await wait_until(lambda: messages_with(stack, CHANNEL, COULD_NOT), what="the note")
    text = rendered(note.__dict__)
    assert "*Nightly CRM* (456)" in text and "rejected" in text and "by hand" in text
    await wait_until(lambda: no_timers_left(stack), what="the attempt ended")
    asked = stack.sim.state.call_counts().get(SCHEDULE_GET, 0)
    await stack.bot.after_ticks(4)
    assert stack.sim.state.call_counts().get(SCHEDULE_GET, 0) == asked
    assert stack.sim.state.backup(123, BACKUP).scheduled is False
    assert len(messages_with(stack, CHANNEL, COULD_NOT)) == 1


async def test_a_window_on_a_backup_skyvia_no_longer_knows_ends_with_a_note(stack: Stack) -> None:
    await connect(stack)
    await stack.command(f"schedule {BACKUP} off for 2s", user=ADMIN)
    await wait_until(lambda: messages_with(stack, CHANNEL, STARTED), what="the start note")
    del stack.sim.state.backups[BACKUP]  # deleted in Skyvia

    [note] = await wait_until(lambda: messages_with(stack, CHANNEL, COULD_NOT), what="the note")
    assert "no longer" in note.text
    await wait_until(lambda: no_timers_left(stack), what="the attempt ended")
    asked = stack.sim.state.call_counts().get(SCHEDULE_GET, 0)
    await stack.bot.after_ticks(4)
    assert stack.sim.state.call_counts().get(SCHEDULE_GET, 0) == asked
