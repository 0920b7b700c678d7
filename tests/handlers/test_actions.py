"""Issue 4 end to end, the buttons: toggles, runs, details, logs, paging, mute — and refusals.

Clicks are signed `block_actions` carrying the message they were clicked on, as Slack sends
them; Skyvia is the simulator, so "calls nothing" is counted where the calls would land.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import (
    DISABLE,
    ENABLE,
    SCHEDULE,
    SNAPSHOT,
    START,
    audit_actions,
    button,
    buttons,
    choose,
    choose_and_reply,
    click,
    click_and_reply,
    connect,
    rendered,
    row_menus,
    row_options,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack, StartBot


def toggle_labels(message: dict) -> list[str]:  # type: ignore[type-arg]
    return [b["text"]["text"] for b in buttons(message, ActionId.SCHEDULE_TOGGLE)]


def menu_toggles(message: dict) -> list[str]:  # type: ignore[type-arg]
    """The schedule option of each row menu of a backups list."""
    return [row_options(message, n)[1] for n in range(len(row_menus(message)))]


async def announcements(stack: Stack, words: str, count: int) -> list[str]:
    calls = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and words in c.args["text"], count=count
    )
    assert all(c.args["channel"] == CHANNEL for c in calls)
    return [rendered(c.args) for c in calls]


async def responses_saying(stack: Stack, words: str, count: int) -> list[dict]:  # type: ignore[type-arg]
    """Waits for `count` response_url posts containing `words`; returns them."""

    def said() -> list[dict]:  # type: ignore[type-arg]
        return [p.body for p in stack.slack.all_responses() if words in p.body.get("text", "")]

    await wait_until(lambda: len(said()) >= count, what=f"{count} answers saying {words!r}")
    return said()


async def test_schedule_toggle_round_trip(bound: Stack) -> None:
    stack = bound
    shown = await stack.reply_to("schedule 456")
    assert toggle_labels(shown) == ["Disable schedule"]
    assert button(shown, ActionId.SCHEDULE_TOGGLE)["confirm"]["confirm"]["text"]

    off = await click_and_reply(stack, shown, ActionId.SCHEDULE_TOGGLE, user=MEMBER)
    assert off["replace_original"] is True
    assert toggle_labels(off) == ["Enable schedule"]
    assert "is *off*" in rendered(off)
    assert stack.sim.state.backup(123, 456).scheduled is False
    told = await announcements(stack, "disabled the schedule", 1)
    assert f"<@{MEMBER}> disabled the schedule of *Nightly CRM* (456)" in told[0]

    on = await click_and_reply(stack, off, ActionId.SCHEDULE_TOGGLE, user=ADMIN)
    assert toggle_labels(on) == ["Disable schedule"]
    assert stack.sim.state.backup(123, 456).scheduled is True
    told = await announcements(stack, "enabled the schedule", 1)
    assert f"<@{ADMIN}> enabled the schedule of *Nightly CRM* (456)" in told[0]
    assert skyvia_calls(stack)[DISABLE] == skyvia_calls(stack)[ENABLE] == 1

    actions = await audit_actions(stack)
    assert ("schedule off", MEMBER, "ok", "backup 456") in actions
    assert ("schedule on", ADMIN, "ok", "backup 456") in actions


async def test_a_stale_toggle_does_what_it_said_and_announces_nothing(bound: Stack) -> None:
    stack = bound
    shown = await stack.reply_to("schedule 456")
    stack.sim.state.set_schedule(123, 456, False)  # someone switched it off in Skyvia meanwhile
    updated = await click_and_reply(stack, shown, ActionId.SCHEDULE_TOGGLE)
    assert toggle_labels(updated) == ["Enable schedule"]
    assert DISABLE not in skyvia_calls(stack)
    await stack.bot.listeners.idle()
    assert not [c for c in stack.slack.calls_to("chat.postMessage") if "schedule" in c.args["text"]]


async def test_toggle_on_the_backups_list_rerenders_that_page(bound: Stack) -> None:
    stack = bound
    for n in range(12):
        stack.sim.state.add_backup(123, f"More {n}", scheduled=True)
    page1 = await stack.reply_to("backups")
    response_id = await click(stack, page1, ActionId.BACKUPS_PAGE_NEXT)
    page2 = (await stack.slack.wait_for_responses(response_id))[0].body
    before = menu_toggles(page2)
    assert before[0] == "Disable schedule"

    after = await choose_and_reply(stack, page2, 0, "Disable schedule", ephemeral=False)
    assert after["replace_original"] is True
    assert "page 2" in rendered(after)
    assert menu_toggles(after) == ["Enable schedule", *before[1:]]
    await announcements(stack, "disabled the schedule", 1)


async def test_toggle_on_an_ephemeral_backups_list_keeps_that_page(bound: Stack) -> None:
    """Slack leaves the message out of clicks on ephemeral messages: the button says the screen."""
    stack = bound
    for n in range(12):
        stack.sim.state.add_backup(123, f"More {n}", scheduled=True)
    page1 = await stack.reply_to("backups")
    response_id = await click(stack, page1, ActionId.BACKUPS_PAGE_NEXT, ephemeral=True)
    page2 = (await stack.slack.wait_for_responses(response_id))[0].body
    before = menu_toggles(page2)
    assert before[0] == "Disable schedule"

    after = await choose_and_reply(stack, page2, 0, "Disable schedule", ephemeral=True)
    assert after["replace_original"] is True
    assert "page 2" in rendered(after)
    assert menu_toggles(after) == ["Enable schedule", *before[1:]]
    assert buttons(after, ActionId.BACKUPS_PAGE_PREV)  # still the list, with its paging
    await announcements(stack, "disabled the schedule", 1)


async def test_toggle_on_ephemeral_details_keeps_the_details(bound: Stack) -> None:
    stack = bound
    details = await stack.reply_to("backup 458")
    after = await click_and_reply(stack, details, ActionId.SCHEDULE_TOGGLE, ephemeral=True)
    assert toggle_labels(after) == ["Disable schedule"]
    assert buttons(after, ActionId.SHOW_SNAPSHOTS)  # still the details screen
    assert "Last snapshots" in rendered(after) or "No finished snapshots" in rendered(after)
    await announcements(stack, "enabled the schedule", 1)


async def test_toggle_from_details_rerenders_the_details(bound: Stack) -> None:
    stack = bound
    details = await stack.reply_to("backup 458")
    assert toggle_labels(details) == ["Enable schedule"]
    after = await click_and_reply(stack, details, ActionId.SCHEDULE_TOGGLE)
    assert toggle_labels(after) == ["Disable schedule"]
    assert buttons(after, ActionId.SHOW_SNAPSHOTS)  # still the details screen
    told = await announcements(stack, "enabled the schedule", 1)
    assert "&lt;!channel&gt; &amp; co" in told[0] and "<!channel>" not in told[0]


async def test_run_snapshot_button_posts_the_card(bound: Stack) -> None:
    stack = bound
    details = await stack.reply_to("backup 456")
    assert "confirm" in button(details, ActionId.RUN_SNAPSHOT)
    page = await stack.reply_to("backups")
    await choose(stack, page, 0, "Run snapshot")
    card = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    started = stack.sim.state.snapshots_of(456)[-1]
    assert str(started.id) in rendered(card[0].args)
    assert f"Started by <@{MEMBER}>" in rendered(card[0].args)


async def test_run_snapshot_button_when_one_is_active_says_so(bound: Stack) -> None:
    stack = bound
    active = stack.sim.state.start_snapshot(456)
    stack.sim.state.hold_running(active.id, timedelta(0))  # a slow machine cannot end it first
    page = await stack.reply_to("backups")
    reply = await choose_and_reply(stack, page, 0, "Run snapshot")
    assert str(active.id) in reply["text"] and "already active" in reply["text"]
    assert button(reply, ActionId.RUN_SNAPSHOT_ANYWAY)
    assert START not in skyvia_calls(stack)


async def test_double_click_starts_one_snapshot(bound: Stack) -> None:
    stack = bound
    page = await stack.reply_to("backups")
    page["ts"] = "1700000000.000200"  # both clicks come from the same message
    [option] = [o for o in row_menus(page)[0]["options"] if o["text"]["text"] == "Run snapshot"]
    before = len(stack.sim.state.snapshots_of(456))
    results = await asyncio.gather(
        *(
            stack.send.block_action(
                ActionId.BACKUP_ROW_MENU,
                option["value"],
                user_id=user,
                channel_id=CHANNEL,
                message=page,
                message_ts=page["ts"],
                selected_option=option,
            )
            for user in (MEMBER, MEMBER, ADMIN)
        )
    )
    assert [r.status_code for r in results] == [200, 200, 200]
    await stack.slack.wait_for("chat.postMessage", lambda c: "Snapshot of" in c.args["text"])
    refusals = await responses_saying(stack, "clicked a moment ago", 2)
    assert len(refusals) == 2
    await stack.bot.listeners.idle()
    assert len(stack.sim.state.snapshots_of(456)) == before + 1
    assert skyvia_calls(stack)[START] == 1
    cards = [c for c in stack.slack.calls_to("chat.postMessage") if "Snapshot of" in c.args["text"]]
    assert len(cards) == 1


async def test_forged_clicks_are_refused_and_call_nothing(bound: Stack) -> None:
    stack = bound
    page = await stack.reply_to("backup 456")  # its buttons: Run snapshot, the toggle
    stack.sim.state.reset_call_counts()
    slack_calls = len(stack.slack.calls)

    # The same button, replayed from a channel with no binding.
    unbound = await click_and_reply(stack, page, ActionId.RUN_SNAPSHOT, channel=OTHER_CHANNEL)
    assert "not connected" in unbound["text"] and "/skyvia connect" in unbound["text"]
    # A value edited to name another workspace: the bot never wrote such a value.
    for forged in (
        json.dumps({"backup_id": 501, "workspace_id": 124}),
        json.dumps({"backup_id": 456, "token": "stolen"}),
        "456",
    ):
        refused = await click_and_reply(stack, page, ActionId.RUN_SNAPSHOT, value=forged)
        assert "could not be read" in refused["text"], forged
    toggled = await click_and_reply(
        stack, page, ActionId.SCHEDULE_TOGGLE, channel=OTHER_CHANNEL, user=ADMIN
    )
    assert "not connected" in toggled["text"]
    await stack.bot.listeners.idle()
    assert skyvia_calls(stack) == {}
    assert [c.method for c in stack.slack.calls[slack_calls:]] == []  # answers went by response_url

    # A backup of workspace 124 asked for from a channel bound to 123 stays in 123.
    other = await click_and_reply(stack, page, ActionId.RUN_SNAPSHOT, value='{"backup_id":501}')
    assert "Backup 501 was not found in workspace 123" in other["text"]
    assert START not in skyvia_calls(stack)
    assert all(s.run_by_schedule for s in stack.sim.state.snapshots_of(501))


async def test_buttons_need_the_role_and_say_which(start_bot: StartBot) -> None:
    stack = await start_bot(SKYVIA_BOT_OPERATORS="U0OPERATOR", workers=False)
    await connect(stack)
    page = await stack.reply_to("backups")
    stack.sim.state.reset_call_counts()
    for label in ("Run snapshot", "Disable schedule", "Mute"):
        refused = await choose_and_reply(stack, page, 0, label, user=MEMBER)
        assert "Only operators can" in refused["text"], label
    assert skyvia_calls(stack) == {}
    details = await choose_and_reply(stack, page, 0, "Details", user=MEMBER)
    assert "Nightly CRM" in rendered(details)  # reading is for everyone


async def test_details_snapshots_log_and_schedule_buttons(bound: Stack) -> None:
    stack = bound
    page = await stack.reply_to("backups")
    details = await choose_and_reply(stack, page, 0, "Details")
    assert details.get("replace_original") is False  # the list stays; details come below
    assert "Nightly CRM" in rendered(details) and "Last snapshots" in rendered(details)

    listing = await click_and_reply(stack, details, ActionId.SHOW_SNAPSHOTS)
    assert "Snapshots of" in rendered(listing) and len(buttons(listing, ActionId.SHOW_LOG)) == 8
    log = await click_and_reply(stack, listing, ActionId.SHOW_LOG, nth=0)
    assert "Log of snapshot" in rendered(log)
    assert skyvia_calls(stack)[SNAPSHOT] == 1

    schedule = await click_and_reply(stack, page, ActionId.SHOW_SCHEDULE, value='{"backup_id":456}')
    assert toggle_labels(schedule) == ["Disable schedule"]
    assert skyvia_calls(stack)[SCHEDULE] >= 2


async def test_mute_and_unmute_buttons(bound: Stack) -> None:
    stack = bound
    alert = {"blocks": [], "text": "Snapshot failed", "ts": "1700000000.000300"}
    await click(stack, alert, ActionId.MUTE_BACKUP, value='{"backup_id":456}')
    told = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    assert f"<@{MEMBER}>" in told[0].args["text"] and "Nightly CRM" in told[0].args["text"]
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        binding = await repo.get(TEAM, CHANNEL)
        assert binding is not None
        assert await repo.muted_backup_ids(binding.id) == {456}

    unmute = {**alert, "ts": "1700000000.000400"}
    await click(stack, unmute, ActionId.UNMUTE_BACKUP, value='{"backup_id":456}')
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "unmuted failure alerts" in c.args["text"]
    )
    again = await click_and_reply(
        stack,
        {**alert, "ts": "1700000000.000500"},
        ActionId.UNMUTE_BACKUP,
        value='{"backup_id":456}',
    )
    assert "already not muted" in again["text"]
    assert ("mute", MEMBER, "ok", "backup 456") in await audit_actions(stack)


async def muted_backups(stack: Stack) -> set[int]:
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        binding = await repo.get(TEAM, CHANNEL)
        assert binding is not None
        return await repo.muted_backup_ids(binding.id)


async def test_the_unmute_button_on_a_mute_notice_unmutes(bound: Stack) -> None:
    stack = bound
    await stack.command("alerts mute 456")
    [told] = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    assert await muted_backups(stack) == {456}

    notice = stack.slack.message_payload(CHANNEL, told.response["ts"])
    await click(stack, notice, ActionId.UNMUTE_BACKUP)  # the button's own value
    told_again = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "unmuted failure alerts" in c.args["text"]
    )
    assert f"<@{MEMBER}> unmuted" in told_again[0].args["text"]
    assert await muted_backups(stack) == set()
