"""Issue 13 end to end: a schedule notice says when, and its Undo switches back once.

Undo is the opposite toggle through the same claim and service call as the schedule buttons;
when someone already switched it back, the clicker is told so and nothing else happens.
"""

from __future__ import annotations

from bot.slack.messages.ids import ActionId
from tests.constants import ADMIN, CHANNEL, MEMBER
from tests.e2e.backup_kit import DISABLE, ENABLE, button, click, rendered, skyvia_calls
from tests.e2e.bot_fixtures import Stack
from tests.handlers.test_actions import responses_saying


async def _notice(stack: Stack, words: str, count: int = 1) -> dict:  # type: ignore[type-arg]
    told = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and words in c.args["text"], count=count
    )
    return stack.slack.message_payload(CHANNEL, told[count - 1].response["ts"])


async def test_a_schedule_notice_shows_the_time_and_undo_switches_back(bound: Stack) -> None:
    stack = bound
    await stack.command("schedule 456 off", user=ADMIN)
    notice = await _notice(stack, "disabled the schedule")
    assert "<!date^" in rendered(notice)
    undo = button(notice, ActionId.SCHEDULE_UNDO)
    assert undo["text"]["text"] == "Undo"

    await click(stack, notice, ActionId.SCHEDULE_UNDO, user=MEMBER)
    again = await _notice(stack, "enabled the schedule")
    assert f"<@{MEMBER}> enabled the schedule of *Nightly CRM* (456)" in rendered(again)
    assert "<!date^" in rendered(again)
    assert stack.sim.state.backup(123, 456).scheduled is True
    assert skyvia_calls(stack)[ENABLE] == 1


async def test_undo_after_someone_else_undid_answers_already(bound: Stack) -> None:
    stack = bound
    await stack.command("schedule 456 off", user=ADMIN)
    notice = await _notice(stack, "disabled the schedule")
    await stack.command("schedule 456 on", user=ADMIN)  # someone else switched it back
    await _notice(stack, "enabled the schedule")

    await click(stack, notice, ActionId.SCHEDULE_UNDO, user=MEMBER)
    [answer] = await responses_saying(stack, "already", 1)
    assert "is already on" in answer["text"]
    assert skyvia_calls(stack)[ENABLE] == 1  # only the command's
    assert skyvia_calls(stack)[DISABLE] == 1
    await stack.bot.listeners.idle()
    enabled = [
        c
        for c in stack.slack.calls_to("chat.postMessage")
        if "enabled the schedule" in c.args["text"]
    ]
    assert len(enabled) == 1
