"""Issue 19 item 16 end to end: what a channel set for its alerts shows where people look.

`status` and App Home show who the channel's alerts mention (as Slack mentions) and the stale
and overdue limits set by hand (named backups, short durations); the backups list marks a muted
backup's row and offers `Unmute` in its menu, confirmed like every change and acting through
the channel's own binding (docs/reference/commands.md#the-skyvia-command,
docs/reference/commands.md#app-home, docs/reference/commands.md#buttons).

Through the real Bolt app over HTTP, Slack the stand-in and Skyvia the simulator, with the
workers running (the alert scanner names the backups).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import (
    assert_valid_payloads,
    choose,
    choose_and_reply,
    connect,
    rendered,
    row_menus,
    row_options,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.home_kit import CREW, open_home
from tests.e2e.worker_kit import cursors_ready

ONCALL = "S0ONCALL"
DANA = "U0DANA"
CRM = "*Nightly CRM* (456)"
SALESFORCE = "*Salesforce &lt;EU&gt; &amp; Marketing* (457)"
EVERYONE = "*&lt;!channel&gt; &amp; co* (458)"
SETTINGS = (
    f"alerts mention <!subteam^{ONCALL}|@data-oncall> <@{DANA}|dana>",
    "alerts stale 456 26h",
    "alerts overdue 456 2h",
    "alerts overdue 457 off",
    "alerts stale 458 90m",
    "alerts stale 459 auto",  # the default: nothing to show
)


async def _set_all(stack: Stack, channel: str = CHANNEL) -> None:
    for typed in SETTINGS:
        await stack.command(typed, user=ADMIN, channel=channel)
        await stack.bot.listeners.idle()  # one after the other, as a person types them


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    """Connected, and the scanner has met every backup of the workspace (with its name)."""
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    return stack


async def muted_in(stack: Stack, channel: str) -> set[int]:
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        binding = await repo.get(TEAM, channel)
        assert binding is not None
        return await repo.muted_backup_ids(binding.id)


def _line_naming(text: str, label: str) -> str:
    [line] = [x for x in text.splitlines() if label in x]
    return line


async def test_status_shows_who_alerts_mention_and_the_limits_set_here(bound: Stack) -> None:
    stack = bound
    await _set_all(stack)
    answer = await stack.reply_to("status")
    status = rendered(answer)
    assert f"<!subteam^{ONCALL}> <@{DANA}>" in status, status
    sections = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    assert "stale after 1d 02h" in _line_naming(sections, CRM)
    assert "overdue after 2h 00m" in _line_naming(sections, CRM)
    assert "overdue notes off" in _line_naming(sections, SALESFORCE)
    assert "stale after 1h 30m" in _line_naming(sections, EVERYONE)
    assert "(459)" not in status  # auto is the default, not a setting
    assert "backup 45" not in status.lower() and "<!channel>" not in status
    assert_valid_payloads(stack.slack)


async def test_status_says_nobody_is_mentioned_only_by_leaving_it_out(bound: Stack) -> None:
    stack = bound
    status = rendered(await stack.reply_to("status"))
    assert "mention" not in status.lower() and "stale after" not in status, status


async def test_home_shows_each_channels_mentions_and_limits(home_stack: Stack) -> None:
    stack = home_stack
    await cursors_ready(stack.bot.container.db)
    await _set_all(stack, CREW)
    view = await open_home(stack, MEMBER, 1)
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    crew = next(s for s in sections if f"<#{CREW}>" in s)
    assert f"<!subteam^{ONCALL}> <@{DANA}>" in crew, crew
    assert "stale after 1d 02h" in _line_naming(crew, CRM), crew
    assert "overdue after 2h 00m" in _line_naming(crew, CRM), crew
    assert "overdue notes off" in _line_naming(crew, SALESFORCE), crew
    assert "stale after 1h 30m" in _line_naming(crew, EVERYONE), crew
    ops = next(s for s in sections if f"<#{CHANNEL}>" in s)
    assert ONCALL not in ops and "stale after" not in ops  # set in CREW only
    assert "<!channel>" not in json.dumps(view)
    assert_valid_payloads(stack.slack)


def _row_text(page: dict[str, Any], backup_id: int) -> str:
    [row] = [
        b["text"]["text"]
        for b in page["blocks"]
        if b["type"] == "section" and f"({backup_id})" in b["text"]["text"]
    ]
    return str(row)


async def test_the_backups_list_marks_muted_rows_and_unmutes_from_the_menu(bound: Stack) -> None:
    stack = bound
    await stack.command("alerts mute 457", user=ADMIN)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    page = await stack.reply_to("backups")
    assert ":no_bell: muted" in _row_text(page, 457)
    assert ":no_bell:" not in _row_text(page, 456)
    assert row_options(page, 1)[-1] == "Unmute" and "Mute" not in row_options(page, 1)
    assert row_options(page, 0)[-1] == "Mute" and "Unmute" not in row_options(page, 0)
    confirm = row_menus(page)[1]["confirm"]["text"]["text"]
    assert "*Unmute*" in confirm and SALESFORCE in confirm, confirm

    after = await choose_and_reply(stack, page, 1, "Unmute")
    [told] = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "unmuted failure alerts" in c.args["text"]
    )
    assert told.args["channel"] == CHANNEL and f"<@{MEMBER}> unmuted" in told.args["text"]
    assert await muted_in(stack, CHANNEL) == set()
    assert after["replace_original"] is True  # the same list page, redrawn
    assert ":no_bell:" not in _row_text(after, 457) and row_options(after, 1)[-1] == "Mute"
    again = await stack.reply_to("backups")
    assert ":no_bell:" not in _row_text(again, 457) and row_options(again, 1)[-1] == "Mute"
    assert_valid_payloads(stack.slack)


async def test_unmute_from_the_menu_acts_on_the_clicking_channels_binding(bound: Stack) -> None:
    """The option names only the backup: clicked in another channel, it is that channel's mute
    (none there), and the mute where the list was shown stays."""
    stack = bound
    await stack.command("alerts mute 457", user=ADMIN)
    await stack.bot.listeners.idle()
    page = await stack.reply_to("backups")
    await connect(stack, OTHER_CHANNEL)
    chosen = await choose(stack, page, 1, "Unmute", channel=OTHER_CHANNEL)
    answer, redrawn = await stack.slack.wait_for_responses(chosen, count=2)
    assert "already not muted" in answer.body["text"], answer.body
    assert row_options(redrawn.body, 1)[-1] == "Mute"  # the list of the channel clicked in
    assert await muted_in(stack, CHANNEL) == {457}
    unbound = await choose_and_reply(stack, page, 1, "Unmute", channel="C0NOWHERE")
    assert "not connected" in unbound["text"], unbound
    assert await muted_in(stack, CHANNEL) == {457}


async def test_unmute_from_the_menu_needs_the_operator_role(start_bot: StartBot) -> None:
    stack = await start_bot(SKYVIA_BOT_OPERATORS="U0OPERATOR", workers=False)
    await connect(stack)
    await stack.command("alerts mute 457", user=ADMIN)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    page = await stack.reply_to("backups")
    stack.sim.state.reset_call_counts()
    refused = await choose_and_reply(stack, page, 1, "Unmute", user=MEMBER)
    assert "Only operators can mute or unmute a backup's alerts" in refused["text"], refused
    assert await muted_in(stack, CHANNEL) == {457}
    assert skyvia_calls(stack) == {}
