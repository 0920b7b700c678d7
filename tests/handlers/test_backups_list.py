"""Issue 13 end to end: the backups list reads at a glance and acts through one menu per row.

One row per backup with its last run's state and age, one overflow menu (Run snapshot,
Enable/Disable schedule, Details, Mute), the workspace's name and "page 1 of 2 · 12 backups"
in the header, `backups <text>` to filter by name; `snapshots <id> [page]` pages too.
"""

from __future__ import annotations

import json

from bot.slack.messages.ids import ActionId
from tests.constants import ADMIN
from tests.e2e.backup_kit import (
    BACKUPS,
    DISABLE,
    SNAPSHOTS,
    START,
    buttons,
    choose,
    rendered,
    row_menus,
    row_options,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack
from tests.handlers.test_actions import announcements, muted_backups, responses_saying


def row_ids(message: dict) -> list[int]:  # type: ignore[type-arg]
    return [json.loads(m["options"][0]["value"])["backup_id"] for m in row_menus(message)]


async def _first_answer(stack: Stack, response_id: str) -> dict:  # type: ignore[type-arg]
    return (await stack.slack.wait_for_responses(response_id))[0].body


async def test_one_row_and_one_menu_per_backup_with_its_last_run(bound: Stack) -> None:
    stack = bound
    for n in range(4):  # 8 seeded + 4 = 12 backups: two pages
        stack.sim.state.add_backup(123, f"Extra {n}", scheduled=True)
    page = await stack.reply_to("backups")
    text = rendered(page)
    assert "Operations" in page["blocks"][0]["text"]["text"]
    assert "page 1 of 2 · 12 backups" in text
    assert row_ids(page) == list(range(456, 464)) + row_ids(page)[8:]
    assert len(row_menus(page)) == 10
    assert buttons(page, ActionId.RUN_SNAPSHOT) == buttons(page, ActionId.SCHEDULE_TOGGLE) == []
    assert row_options(page, 0) == ["Run snapshot", "Disable schedule", "Details", "Mute"]
    assert row_options(page, 2)[1] == "Enable schedule"
    nightly = json.dumps(page["blocks"][1])
    assert "^{ago}" in nightly and "last run" in nightly  # Nightly CRM has a history
    assert "never run" in json.dumps(page["blocks"][6])  # Zendesk tickets has none
    # One listing for the whole list, and one snapshot listing per row of the page.
    assert skyvia_calls(stack) == {BACKUPS: 1, SNAPSHOTS: 10}
    assert [b["text"]["text"] for b in buttons(page, ActionId.BACKUPS_PAGE_NEXT)] == ["Next"]


async def test_the_menu_acts_like_the_buttons(bound: Stack) -> None:
    stack = bound
    for n in range(4):
        stack.sim.state.add_backup(123, f"Extra {n}", scheduled=True)
    page = await stack.reply_to("backups 2")
    assert "page 2 of 2" in rendered(page)

    after = await _first_answer(stack, await choose(stack, page, 0, "Disable schedule"))
    assert after["replace_original"] is True
    assert "page 2 of 2" in rendered(after)  # the same page, redrawn
    assert row_options(after, 0)[1] == "Enable schedule"
    assert stack.sim.state.backup(123, row_ids(page)[0]).scheduled is False
    assert skyvia_calls(stack)[DISABLE] == 1
    await announcements(stack, "disabled the schedule", 1)

    details = await _first_answer(stack, await choose(stack, page, 1, "Details"))
    assert f"({row_ids(page)[1]})" in rendered(details)

    await choose(stack, page, 0, "Run snapshot")
    await choose(stack, page, 0, "Run snapshot")  # a double click acts once
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "Snapshot" in c.args["text"])
    await stack.bot.listeners.idle()
    assert skyvia_calls(stack)[START] == 1

    await choose(stack, page, 1, "Mute", user=ADMIN)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    assert await muted_backups(stack) == {row_ids(page)[1]}


async def test_a_forged_menu_value_is_refused_without_a_skyvia_call(bound: Stack) -> None:
    stack = bound
    page = await stack.reply_to("backups")
    stack.sim.state.reset_call_counts()
    forged = ('{"do":"explode","backup_id":456}', '{"do":"run"}', "run 456")
    for value in forged:
        await choose(stack, page, 0, "Run snapshot", value=value)
    await responses_saying(stack, "could not be read", len(forged))
    await stack.bot.listeners.idle()
    assert skyvia_calls(stack) == {}


async def test_backups_text_filters_by_name(bound: Stack) -> None:
    stack = bound
    page = await stack.reply_to("backups nightly")
    assert row_ids(page) == [456]
    assert "1 backup" in rendered(page) and "nightly" in rendered(page)
    wide = await stack.reply_to("backups ＣＯＮＴＡＣＴＳ")  # NFKC, like names
    assert row_ids(wide) == [460]
    none = await stack.reply_to("backups nothing-like-this")
    assert row_menus(none) == []
    assert "No backup" in rendered(none)
    # the toggle on a filtered list redraws the filtered list
    after = await _first_answer(stack, await choose(stack, page, 0, "Disable schedule"))
    assert row_ids(after) == [456]


async def test_snapshots_take_a_page(bound: Stack) -> None:
    stack = bound
    stack.sim.state.add_backup(123, "Long history", id=470, history=15)
    first = await stack.reply_to("snapshots 470")
    second = await stack.reply_to("snapshots 470 2")
    assert "page 2" in rendered(second)
    assert rendered(first) != rendered(second)
    assert second["response_type"] == "ephemeral"
