"""The App Home with the workers running: recent failures from the delivery ledger with their
buttons, runs in progress from the pending watches, and each channel's alert settings.

Only channels the user can see: MEMBER is not in the private SECRET, so its failures and
settings never reach MEMBER's tab. The real bot, the simulator and the Slack stand-in.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.clock import utcnow
from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from storage.repositories import BindingRepository
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import assert_valid_payloads, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.home_kit import CREW, SECRET, open_home
from tests.e2e.worker_kit import alerts_in, cursors_ready, finished_watch, kind_of, long_run


async def click_on_home(stack: Stack, user: str, view: dict[str, Any], action_id: str) -> None:
    """Clicks a button of the published Home view as Slack does: no channel, no response_url."""
    element = next(
        e
        for block in view["blocks"]
        for e in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else [])
        if e.get("action_id") == action_id
    )
    response = await stack.send.block_action(
        action_id,
        element["value"],
        user_id=user,
        channel_id=None,
        container={"type": "view", "view_id": "V0HOME"},
    )
    assert response.status_code == 200, response.text


async def test_home_lists_recent_failures_with_their_buttons(home_stack: Stack) -> None:
    """A failure alert sent to CHANNEL shows on Home with Show log and Run snapshot; SECRET's
    failure stays off MEMBER's Home; Run snapshot from Home retries in the alert's thread."""
    stack = home_stack
    await cursors_ready(stack.bot.container.db)
    await cursors_ready(stack.bot.container.db, 124, 1)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True, log="Error: INVALID_SESSION_ID")
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await wait_until(lambda: alerts_in(stack.slack, CREW, failed.id), what="the crew alert")
    hidden = stack.sim.state.run_scheduled_now(501, fail=True, log="Error: hidden")
    await wait_until(lambda: alerts_in(stack.slack, SECRET, hidden.id), what="the secret alert")
    alert = alerts_in(stack.slack, CHANNEL, failed.id)[0]

    view = await open_home(stack, MEMBER, 1)
    text = json.dumps(view)
    assert "Recent failures" in text and f"snapshot {failed.id}" in text.lower()
    assert "Nightly CRM" in text and "<!date^" in text
    # The secret channel's failure is not listed (checked by its id where ids appear, not as
    # digits anywhere: a date stamp such as 1796670028 contains 7002).
    assert f"snapshot {hidden.id}" not in text.lower() and SECRET not in text
    listed = [
        json.loads(e["value"]).get("snapshot_id")
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if "value" in e
    ]
    assert hidden.id not in listed and failed.id in listed
    actions = [
        e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert ActionId.HOME_SHOW_LOG in actions and ActionId.HOME_RUN_SNAPSHOT in actions
    assert len(view["blocks"]) <= 100
    assert_valid_payloads(stack.slack)

    await click_on_home(stack, MEMBER, view, ActionId.HOME_SHOW_LOG)
    log = await stack.slack.wait_for(
        "chat.postEphemeral", lambda c: c.ok and "INVALID_SESSION_ID" in rendered(c.args)
    )
    assert log[0].args["user"] == MEMBER and log[0].args["channel"] in (CHANNEL, CREW)

    await click_on_home(stack, MEMBER, view, ActionId.HOME_RUN_SNAPSHOT)
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and f"Retry of snapshot {failed.id}" in rendered(c.args)
    )
    channel = posted[0].args["channel"]
    retry = stack.slack.message(channel, posted[0].response["ts"])
    assert retry.thread_ts == alerts_in(stack.slack, channel, failed.id)[0].ts
    assert alert.ts  # the alert it retries was the one on Home


async def test_home_shows_each_channels_settings_and_live_runs_only(home_stack: Stack) -> None:
    stack = home_stack
    await cursors_ready(stack.bot.container.db)  # the muted backup's name comes from its cursor
    await stack.command(f"alerts mute {BACKUP}", user=ADMIN, channel=CREW)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "muted" in c.args["text"])
    await stack.command("digest daily 08:15", user=ADMIN, channel=CREW)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "digest" in c.args["text"])
    async with stack.bot.container.db.session() as session:
        await BindingRepository(session).pause(
            stack.slack.team_id, CHANNEL, "the bot was removed from the channel", utcnow()
        )
    stack.sim.state.backups[BACKUP].run_seconds = 3600.0  # still running when Home opens
    await stack.command(f"snapshot {BACKUP}", user=MEMBER, channel=CREW)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    run = stack.sim.state.snapshots_of(BACKUP)[-1]

    view = await open_home(stack, MEMBER, 1)
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    crew = next(s for s in sections if f"<#{CREW}>" in s)
    assert "muted" in crew and "Nightly CRM" in crew and f"{BACKUP}" in crew
    assert "daily digest at 08:15 (Europe/London)" in crew
    ops = next(s for s in sections if f"<#{CHANNEL}>" in s)
    assert "paused" in ops and "the bot was removed from the channel" in ops
    progress = next(s for s in sections if f"Snapshot {run.id}" in s)
    assert "<!date^" in progress and "^{ago}|" in progress  # a relative date

    stack.sim.state.finish_snapshot(run.id)
    await finished_watch(stack.bot.container.db, run.id, CREW)
    view = await open_home(stack, MEMBER, 2)
    assert f"Snapshot {run.id} " not in json.dumps(view)  # finished: no longer in progress


def _failure_lines(view: dict[str, Any], channel: str) -> list[str]:
    """The Recent failures lines of `channel`, newest first."""
    return [
        b["text"]["text"]
        for b in view["blocks"]
        if b["type"] == "section"
        and f"<#{channel}>" in b["text"]["text"]
        and "Nightly CRM" in b["text"]["text"]
    ]


async def test_home_shows_each_failure_episode_as_it_is(home_stack: Stack) -> None:
    """An open episode shows its streak and since when; a recovered one says so, when, and
    after how many failures — also once a newer episode of the same backup has begun
    (docs/reference/commands.md#app-home)."""
    stack = home_stack
    await cursors_ready(stack.bot.container.db)
    first = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, first.id), what="the alert")
    alert = alerts_in(stack.slack, CHANNEL, first.id)[0]
    second = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: "2 failed snapshots in a row" in stack.slack.message(CHANNEL, alert.ts).text,
        what="the streak header",
    )

    (failing,) = _failure_lines(await open_home(stack, MEMBER, 1), CHANNEL)
    assert failing.startswith(":x:") and "is failing" in failing
    assert "2 failed snapshots in a row since <!date^" in failing
    assert f"snapshot {second.id}" in failing  # the latest failure, not only the first

    stack.sim.state.recover(BACKUP)
    await wait_until(
        lambda: "recovered after 2 failures" in stack.slack.message(CHANNEL, alert.ts).text,
        what="the recovery",
    )
    (recovered,) = _failure_lines(await open_home(stack, MEMBER, 2), CHANNEL)
    assert recovered.startswith(":white_check_mark:") and "failed" not in recovered.split("·")[0]
    assert "recovered after 2 failures" in recovered and "<!date^" in recovered

    third = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, third.id), what="a new episode")
    opened = 3

    async def both_episodes() -> list[str] | None:
        # Home lists an alert once its ledger row says sent, a moment after Slack has it.
        nonlocal opened
        lines = _failure_lines(await open_home(stack, MEMBER, opened), CHANNEL)
        opened += 1
        return lines if len(lines) == 2 else None

    newer, older = await wait_until(both_episodes, what="both episodes on App Home")
    assert "is failing — 1 failed snapshot since" in newer and f"snapshot {third.id}" in newer
    assert older.startswith(":white_check_mark:") and "recovered after 2 failures" in older
    assert_valid_payloads(stack.slack)


async def test_home_shows_runs_that_take_unusually_long(home_stack: Stack) -> None:
    """A run the channel was told is overdue shows under that channel until it ends, with how
    long it has run and how long it usually takes (docs/reference/commands.md#app-home)."""
    stack = home_stack
    run = long_run(stack)  # going before the first scan, so the first overdue check sees it
    await cursors_ready(stack.bot.container.db)
    await stack.command(f"alerts overdue {BACKUP} auto", user=ADMIN)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "overdue notes to *auto*" in c.args["text"]
    )
    await wait_until(
        lambda: [m for m in stack.slack.messages(CHANNEL) if kind_of(m) == "overdue"],
        what="the overdue note",
    )

    view = await open_home(stack, MEMBER, 1)
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    under = sections[sections.index(next(s for s in sections if f"<#{CHANNEL}>" in s)) + 1]
    [line] = [x for x in under.splitlines() if "Nightly CRM" in x]  # under its channel
    assert re.fullmatch(
        rf":hourglass_flowing_sand: \*Nightly CRM\* \(456\) running 2h \d\dm — usually \S+.* · "
        rf"snapshot {run.id}",
        line,
    ), line

    stack.sim.state.finish_snapshot(run.id)
    await wait_until(
        lambda: [m for m in stack.slack.messages(CHANNEL) if kind_of(m) == "overdue_end"],
        what="the run's end",
    )
    view = await open_home(stack, MEMBER, 2)
    assert ":hourglass_flowing_sand:" not in json.dumps(view)
