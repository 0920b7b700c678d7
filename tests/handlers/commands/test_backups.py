"""Issue 4 end to end, the commands: backups, backup, snapshots, snapshot, schedule.

Real Bolt app over HTTP, fake Slack on loopback, the Skyvia simulator: what is asserted is what
Slack and Skyvia saw. Every payload the fake received is re-validated after each test.
"""

from __future__ import annotations

import json
from datetime import timedelta

from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from tests.constants import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL
from tests.e2e.backup_kit import (
    ACTIVE,
    BACKUPS,
    DISABLE,
    GET_BACKUP,
    SCHEDULE,
    SNAPSHOTS,
    START,
    audit_actions,
    button,
    buttons,
    carded_watch_of,
    click,
    click_and_reply,
    connect,
    rendered,
    row_menus,
    row_options,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack, StartBot


def backup_ids(message: dict) -> list[int]:  # type: ignore[type-arg]
    """Backup ids in the order a list shows them (from each row's menu)."""
    return [json.loads(m["options"][0]["value"])["backup_id"] for m in row_menus(message)]


async def test_backups_pages_through_more_than_25_in_place(bound: Stack) -> None:
    stack = bound
    for n in range(20):  # 8 seeded + 20 = 28 backups: three pages
        stack.sim.state.add_backup(123, f"Extra backup {n + 1:02d}", scheduled=n % 2 == 0)
    page1 = await stack.reply_to("backups")
    assert page1["response_type"] == "ephemeral"
    first = backup_ids(page1)
    assert len(first) == 10 and first[0] == 456
    assert [b["text"]["text"] for b in buttons(page1, ActionId.BACKUPS_PAGE_NEXT)] == ["Next"]
    assert buttons(page1, ActionId.BACKUPS_PAGE_PREV) == []

    seen = list(first)
    message = page1
    for expected in (10, 8):
        response_id = await click(stack, message, ActionId.BACKUPS_PAGE_NEXT)
        message = (await stack.slack.wait_for_responses(response_id))[0].body
        assert message["replace_original"] is True  # the same message, updated in place
        seen += backup_ids(message)
        assert len(backup_ids(message)) == expected
    assert buttons(message, ActionId.BACKUPS_PAGE_NEXT) == []
    assert len(seen) == len(set(seen)) == 28
    assert "page 3" in rendered(message)

    response_id = await click(stack, message, ActionId.BACKUPS_PAGE_PREV)
    back = (await stack.slack.wait_for_responses(response_id))[0].body
    assert backup_ids(back) == seen[10:20]
    # One listing of the whole list (cached for the next pages), and each row's last run.
    assert skyvia_calls(stack) == {BACKUPS: 1, SNAPSHOTS: 10 + 10 + 8 + 10}


async def test_backups_page_argument_and_each_row_has_its_buttons(bound: Stack) -> None:
    page = await bound.reply_to("backups 1")
    assert len(row_menus(page)) == len(backup_ids(page)) == 8
    menus = [row_options(page, n) for n in range(8)]
    assert {m[1] for m in menus} == {"Disable schedule", "Enable schedule"}
    assert all([m[0], *m[2:]] == ["Run snapshot", "Details", "Mute"] for m in menus)
    # Past the end: the last page, saying so (docs/reference/commands.md#input-rules).
    past = await bound.reply_to("backups 5")
    assert "There is only one page, so this is page 1 (you asked for page 5)." in rendered(past)
    assert "page 1 of 1" in rendered(past) and len(backup_ids(past)) == 8


async def test_a_backup_named_like_a_mention_is_escaped(bound: Stack) -> None:
    page = await bound.reply_to("backups")
    details = await bound.reply_to("backup 458")
    for message in (page, details):
        text = rendered(message)
        assert "&lt;!channel&gt; &amp; co" in text
        assert "<!channel>" not in text
    # Nothing the bot sent anywhere carries the raw control sequence.
    assert all("<!channel>" not in rendered(p.body) for p in bound.slack.all_responses())


async def test_backup_details_show_schedule_active_run_and_last_five(bound: Stack) -> None:
    stack = bound
    running = stack.sim.state.start_snapshot(456)
    details = await stack.reply_to("backup #456")
    text = rendered(details)
    assert "Nightly CRM" in text and "schedule on" in text
    assert f"Snapshot {running.id}" in text
    assert text.count(":white_check_mark:") + text.count(":x:") == 5  # the last five finished
    assert skyvia_calls(stack) == {GET_BACKUP: 1, SCHEDULE: 1, ACTIVE: 1, SNAPSHOTS: 1}
    assert [b["text"]["text"] for b in buttons(details, ActionId.SCHEDULE_TOGGLE)] == [
        "Disable schedule"
    ]


async def test_snapshots_newest_first_with_filters_and_paging(bound: Stack) -> None:
    stack = bound
    state = stack.sim.state
    for _ in range(6):  # 8 seeded + 6 = 14 finished: two pages
        state.start_snapshot(456)
        state.advance(60)
    state.fail_next(456, "Error: INVALID_SESSION_ID on object Lead")
    failed = state.start_snapshot(456)
    state.advance(60)

    listing = await stack.reply_to("snapshots 456")
    ids = [int(b["value"].split(":")[-1].strip("}")) for b in buttons(listing, ActionId.SHOW_LOG)]
    assert len(ids) == 10 and ids == sorted(ids, reverse=True) and ids[0] == failed.id
    response_id = await click(stack, listing, ActionId.SNAPSHOTS_PAGE_NEXT)
    page2 = (await stack.slack.wait_for_responses(response_id))[0].body
    assert page2["replace_original"] is True
    assert len(buttons(page2, ActionId.SHOW_LOG)) == 5
    assert buttons(page2, ActionId.SNAPSHOTS_PAGE_NEXT) == []

    all_failed = await stack.reply_to("snapshots 456 failed")
    lines = [b["text"]["text"] for b in all_failed["blocks"] if b.get("accessory")]
    assert len(lines) >= 2 and all(":x:" in line for line in lines)  # seeded failures too
    # The seeded history is hours old: `since 1h` leaves only the run that just failed.
    only_failed = await stack.reply_to("snapshots 456 failed since 1h")
    logs = buttons(only_failed, ActionId.SHOW_LOG)
    assert [str(failed.id) in b["value"] for b in logs] == [True]
    assert "failed only" in rendered(only_failed)

    log_reply = await click_and_reply(stack, only_failed, ActionId.SHOW_LOG)
    assert "INVALID_SESSION_ID on object Lead" in rendered(log_reply) and "```" in rendered(
        log_reply
    )

    future = await stack.reply_to("snapshots 456 until 2001-01-01")
    assert "No finished snapshots match" in rendered(future)


async def test_snapshot_posts_a_card_and_records_a_watch(bound: Stack) -> None:
    stack = bound
    await stack.command("snapshot 456", user=MEMBER)
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Nightly CRM" in c.args["text"]
    )
    card = posted[0]
    run = stack.sim.state.snapshots_of(456)[-1]
    assert card.args["channel"] == CHANNEL
    assert str(run.id) in rendered(card.args) and f"<@{MEMBER}>" in rendered(card.args)
    assert skyvia_calls(stack)[START] == 1

    watch = await wait_until(lambda: carded_watch_of(stack, run.id), what="the watch")
    assert watch.message_ts == card.response["ts"]
    assert (watch.workspace_id, watch.backup_id, watch.started_by) == (123, 456, MEMBER)
    assert watch.backup_name == "Nightly CRM"
    assert ("snapshot", MEMBER, "started", "backup 456") in await audit_actions(stack)


async def test_snapshot_while_one_is_active_offers_to_start_another(bound: Stack) -> None:
    stack = bound
    active = stack.sim.state.start_snapshot(456)
    stack.sim.state.hold_running(active.id, timedelta(0))  # a slow machine cannot end it first
    refused = await stack.reply_to("snapshot 456")
    assert refused["response_type"] == "ephemeral"
    assert str(active.id) in refused["text"] and "already active" in refused["text"]
    assert START not in skyvia_calls(stack)
    assert stack.slack.calls_to("chat.postMessage") == [] or all(
        "Snapshot of" not in c.args["text"] for c in stack.slack.calls_to("chat.postMessage")
    )
    anyway = button(refused, ActionId.RUN_SNAPSHOT_ANYWAY)
    assert "confirm" in anyway

    response_id = await click(stack, refused, ActionId.RUN_SNAPSHOT_ANYWAY)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    assert skyvia_calls(stack)[START] == 1
    assert len(stack.sim.state.snapshots_of(456)) == 8 + 2
    deleted = await stack.slack.wait_for_responses(response_id)
    assert deleted[0].body.get("delete_original") is True


async def test_only_operators_may_start_or_switch_when_operators_are_set(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_BOT_OPERATORS="U0OPERATOR", workers=False)
    await connect(stack)
    refused = await stack.reply_to("snapshot 456", user=MEMBER)
    assert "Only operators can start a snapshot" in refused["text"]
    refused = await stack.reply_to("schedule 456 off", user=MEMBER)
    assert "Only operators" in refused["text"]
    assert START not in skyvia_calls(stack) and DISABLE not in skyvia_calls(stack)
    # Reading stays open to everyone in the channel.
    shown = await stack.reply_to("schedule 456", user=MEMBER)
    assert button(shown, ActionId.SCHEDULE_TOGGLE)["text"]["text"] == "Disable schedule"


async def test_schedule_on_off_switches_and_tells_the_channel(bound: Stack) -> None:
    stack = bound
    shown = await stack.reply_to("schedule 456")
    assert [b["text"]["text"] for b in buttons(shown, ActionId.SCHEDULE_TOGGLE)] == [
        "Disable schedule"
    ]
    await stack.command("schedule 456 off", user=ADMIN)
    told = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "disabled the schedule" in c.args["text"]
    )
    assert told[0].args["channel"] == CHANNEL
    assert f"<@{ADMIN}> disabled the schedule of *Nightly CRM* (456)" in rendered(told[0].args)
    assert stack.sim.state.backup(123, 456).scheduled is False
    # Asking again changes nothing and announces nothing.
    again = await stack.reply_to("schedule 456 OFF", user=ADMIN)
    assert button(again, ActionId.SCHEDULE_TOGGLE)["text"]["text"] == "Enable schedule"
    assert skyvia_calls(stack)[DISABLE] == 1
    actions = await audit_actions(stack)
    assert ("schedule off", ADMIN, "ok", "backup 456") in actions
    assert ("schedule off", ADMIN, "unchanged", "backup 456") in actions


async def test_unbound_channel_and_bad_input_cost_no_skyvia_call(bound: Stack) -> None:
    stack = bound
    for command in ("backups", "backup 456", "snapshots 456", "snapshot 456", "schedule 456"):
        body = await stack.reply_to(command, channel=OTHER_CHANNEL)
        assert "/skyvia connect" in body["text"], command
    bad = await stack.reply_to("snapshots 456 since someday")
    assert "someday" in bad["text"] and "/skyvia snapshots" in rendered(bad)
    wrong = await stack.reply_to("schedule 456 maybe")
    assert "maybe" in wrong["text"]
    assert skyvia_calls(stack) == {}
