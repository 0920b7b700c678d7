"""`/skyvia health` end to end: the real Bolt app, fake Slack, the Skyvia simulator.

What is asserted is what Slack received and what Skyvia was asked: one backups listing and one
snapshots listing per backup, and nothing else.
"""

from __future__ import annotations

import re
from typing import Any

from bot.slack.messages.ids import ActionId
from tests.constants import BACKUP, CHANNEL, MEMBER, SEED_BACKUPS
from tests.e2e.backup_kit import (
    BACKUPS,
    SNAPSHOTS,
    buttons,
    click,
    click_and_reply,
    rendered,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack

ZENDESK = 461
"""Seeded without any history: it has never run."""


def fail_in_a_row(stack: Stack, backup_id: int, count: int) -> None:
    """`count` finished failed runs of the backup, a minute apart, newest last."""
    for _ in range(count):
        stack.sim.state.advance(60)
        run = stack.sim.state.start_snapshot(backup_id)
        stack.sim.state.finish_snapshot(run.id, "Failed")
    stack.sim.state.advance(60)


def lines(message: dict[str, Any]) -> list[str]:
    """The backup lines of a health page: every section naming a backup as `*name* (id)`."""
    texts = [
        block["text"]["text"]
        for block in message.get("blocks") or []
        if block.get("type") == "section"
    ]
    return [t for t in texts if re.search(r"\* \(\d+\)", t) and "Backup health" not in t]


def line_of(message: dict[str, Any], backup_id: int) -> str:
    return next(line for line in lines(message) if f"({backup_id})" in line)


async def test_health_is_worst_first_private_and_costs_one_listing_per_backup(
    bound: Stack,
) -> None:
    stack = bound
    fail_in_a_row(stack, BACKUP, 10)  # more than any seeded history holds
    stack.sim.state.reset_call_counts()

    answer = await stack.reply_to("health")

    assert answer["response_type"] == "ephemeral"
    shown = lines(answer)
    assert len(shown) == len(SEED_BACKUPS)
    first = shown[0]
    assert "(456)" in first and first.startswith(":x:")
    assert "10 failed in a row" in first
    assert first.count(":x:") == 11  # the condition, then a strip of ten failed runs
    assert ":x:" * 10 in first
    assert "no good snapshot in the last 10 runs" in first and "schedule on" in first
    never = line_of(answer, ZENDESK)
    assert "no finished snapshots yet" in never and "schedule off" in never
    assert "Backup health of" in answer["text"] and "healthy" in answer["text"]
    assert [b["text"]["text"] for b in buttons(answer, ActionId.SHARE_HEALTH)] == [
        "Share in channel"
    ]
    assert buttons(answer, ActionId.HEALTH_PAGE_NEXT) == []
    assert skyvia_calls(stack) == {BACKUPS: 1, SNAPSHOTS: len(SEED_BACKUPS)}


async def test_healthy_lines_show_the_last_good_snapshot_as_a_living_date(bound: Stack) -> None:
    stack = bound
    run = stack.sim.state.start_snapshot(BACKUP)
    stack.sim.state.finish_snapshot(run.id, "Succeeded")
    line = line_of(await stack.reply_to("health"), BACKUP)
    assert line.startswith(":white_check_mark:")
    assert re.search(r"last good <!date\^\d+\^\{ago\}\|", line)
    assert line.count(":white_check_mark:") >= 2 and "failed" not in line


async def test_share_posts_the_page_to_the_channel_naming_who_shared(bound: Stack) -> None:
    stack = bound
    fail_in_a_row(stack, BACKUP, 2)
    answer = await stack.reply_to("health")
    before = len(stack.slack.calls_to("chat.postMessage"))

    await click(stack, answer, ActionId.SHARE_HEALTH, ephemeral=True)

    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Backup health" in c.args["text"], count=1
    )
    assert len(stack.slack.calls_to("chat.postMessage")) == before + 1
    shared = posted[0].args
    assert shared["channel"] == CHANNEL
    assert f"shared by <@{MEMBER}>" in rendered(shared)
    assert "2 failed in a row" in line_of(shared, BACKUP)
    assert not any(block["type"] == "actions" for block in shared["blocks"])


async def test_turning_a_page_reuses_the_reading_instead_of_the_whole_workspace(
    bound: Stack,
) -> None:
    """`health` reads every backup's runs; Next and Previous within a minute page through that
    same reading instead of listing every backup's snapshots again."""
    stack = bound
    for n in range(20):
        stack.sim.state.add_backup(123, f"Extra backup {n + 1:02d}")
    page1 = await stack.reply_to("health")
    assert skyvia_calls(stack)[SNAPSHOTS] == 28
    stack.sim.state.reset_call_counts()

    page2 = await click_and_reply(stack, page1, ActionId.HEALTH_PAGE_NEXT)
    back = await click_and_reply(stack, page2, ActionId.HEALTH_PAGE_PREV)

    assert "page 2 of 2" in rendered(page2) and lines(back) == lines(page1)
    assert skyvia_calls(stack) == {}


async def test_share_clicked_twice_posts_once(bound: Stack) -> None:
    stack = bound
    answer = await stack.reply_to("health")
    before = len(stack.slack.calls_to("chat.postMessage"))

    first = await click(stack, answer, ActionId.SHARE_HEALTH, ephemeral=True)
    second = await click(stack, answer, ActionId.SHARE_HEALTH, ephemeral=True)

    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Backup health" in c.args["text"], count=1
    )
    [told] = await stack.slack.wait_for_responses(second, count=1)
    assert "clicked a moment ago" in told.body["text"]
    assert stack.slack.responses(first) == []
    assert len(stack.slack.calls_to("chat.postMessage")) == before + 1


async def test_many_backups_are_paged_and_every_backup_appears_once(bound: Stack) -> None:
    stack = bound
    for n in range(20):  # 8 seeded + 20 = 28: two pages of 20
        stack.sim.state.add_backup(123, f"Extra backup {n + 1:02d}")
    page1 = await stack.reply_to("health")
    assert len(lines(page1)) == 20 and "page 1 of 2" in rendered(page1)
    page2 = await click_and_reply(stack, page1, ActionId.HEALTH_PAGE_NEXT)
    assert page2["replace_original"] is True
    assert len(lines(page2)) == 8 and "page 2 of 2" in rendered(page2)
    ids = [int(re.findall(r"\((\d+)\)", line)[0]) for line in lines(page1) + lines(page2)]
    assert len(ids) == len(set(ids)) == 28
    assert buttons(page2, ActionId.HEALTH_PAGE_PREV) and not buttons(
        page2, ActionId.HEALTH_PAGE_NEXT
    )
    typed = await stack.reply_to("health 2")
    assert lines(typed) == lines(page2)


async def test_muted_backups_and_unreadable_ones_are_said(bound: Stack) -> None:
    stack = bound
    await stack.command(f"alerts mute {BACKUP}")
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "muted" in c.args["text"])
    stack.sim.state.inject_errors(404, count=1, endpoint=SNAPSHOTS)
    answer = await stack.reply_to("health")
    assert ":no_bell: muted" in line_of(answer, BACKUP)
    unknown = [line for line in lines(answer) if "did not list its snapshots" in line]
    assert len(unknown) == 1 and unknown[0].startswith(":warning:")
    assert len(lines(answer)) == len(SEED_BACKUPS)


async def test_bad_input_gets_the_usage_line_and_costs_nothing(bound: Stack) -> None:
    stack = bound
    answer = await stack.reply_to("health soon")
    assert "/skyvia health [page]" in rendered(answer)
    assert skyvia_calls(stack) == {}
