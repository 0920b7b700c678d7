"""Issue 13 end to end: repeats stay quiet, re-connect tells the truth, disconnect ends the cards,
"already running" links the run, and a retry stays in the thread of what it retries.

Everything goes through the real Bolt app over HTTP, Slack is the stand-in and Skyvia the
simulator, so "no channel post" and "no Skyvia write" are counted where they would land.
"""

from __future__ import annotations

from typing import Any

from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, TEAM
from tests.e2e.backup_kit import (
    DISABLE,
    START,
    button,
    carded_watch_of,
    click,
    rendered,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack


def channel_posts(stack: Stack) -> list[dict[str, Any]]:
    return [c.args for c in stack.slack.calls_to("chat.postMessage") if c.ok]


async def start_from_slack(stack: Stack, backup_id: int = 456) -> tuple[int, str]:
    """Runs `/skyvia snapshot` and returns (snapshot id, card ts) once the watch is written."""
    before = len(channel_posts(stack))
    await stack.command(f"snapshot {backup_id}")
    posted = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"], count=1
    )
    run = stack.sim.state.snapshots_of(backup_id)[-1]
    watch = await wait_until(lambda: carded_watch_of(stack, run.id), what="the watch")
    assert len(channel_posts(stack)) == before + 1
    assert watch.message_ts == posted[-1].response["ts"]
    return run.id, watch.message_ts


# -- 2: repeats answer "already" to the user only ------------------------------------------------


async def test_alerts_off_twice_posts_once_and_tells_the_user_it_already_was(
    bound: Stack,
) -> None:
    stack = bound
    await stack.command("alerts off", user=ADMIN)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "alerts" in c.args["text"])
    posts = len(channel_posts(stack))
    again = await stack.reply_to("alerts off", user=ADMIN)
    assert again["response_type"] == "ephemeral"
    assert "already off" in again["text"]
    await stack.command("alerts on", user=ADMIN)  # a real change is still told
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok, count=posts + 1)
    already_on = await stack.reply_to("alerts on", user=ADMIN)
    assert "already on" in already_on["text"]
    await stack.bot.listeners.idle()
    assert len(channel_posts(stack)) == posts + 1


async def test_schedule_off_when_already_off_says_so_and_writes_nothing(bound: Stack) -> None:
    stack = bound
    posts = len(channel_posts(stack))
    stack.sim.state.set_schedule(123, 456, False)
    body = await stack.reply_to("schedule 456 off", user=ADMIN)
    assert body["response_type"] == "ephemeral"
    assert "already off" in body["text"]
    assert button(body, ActionId.SCHEDULE_TOGGLE)["text"]["text"] == "Enable schedule"
    assert DISABLE not in skyvia_calls(stack)
    await stack.bot.listeners.idle()
    assert len(channel_posts(stack)) == posts


# -- 3: re-connect says what is true, and a different workspace asks first ----------------------


async def test_reconnect_after_alerts_off_does_not_promise_alerts(bound: Stack) -> None:
    stack = bound
    await stack.command("alerts off", user=ADMIN)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "alerts" in c.args["text"])
    posts = len(channel_posts(stack))
    # Nothing changes, so only the admin hears it (docs/reference/messages.md), told the truth.
    told = await stack.reply_to("connect 123", user=ADMIN)
    text = rendered(told)
    assert told["response_type"] == "ephemeral" and "already connected" in text
    assert "will be announced here" not in text
    assert "alerts are off" in text.lower() and "/skyvia alerts on" in text
    await stack.bot.listeners.idle()
    assert len(channel_posts(stack)) == posts
    status = await stack.reply_to("status")
    assert "*off*" in rendered(status)


async def test_connect_to_another_workspace_asks_first_and_only_then_replaces(
    bound: Stack,
) -> None:
    stack = bound
    await stack.command("alerts mute 456", user=ADMIN)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok, count=2)
    _, card_ts = await start_from_slack(stack)
    posts = len(channel_posts(stack))

    ask = await stack.reply_to("connect 124", user=ADMIN)
    assert ask["response_type"] == "ephemeral"
    text = rendered(ask)
    assert "124" in text and "123" in text
    assert "456" in text and "mute" in text.lower() and "watch" in text.lower()
    async with stack.bot.container.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None and binding.workspace_id == 123
    assert len(channel_posts(stack)) == posts

    confirm = button(ask, ActionId.CONFIRM_CONNECT)
    await click(stack, ask, ActionId.CONFIRM_CONNECT, user=ADMIN, value=confirm["value"])
    told = await stack.slack.wait_for("chat.postMessage", lambda c: c.ok, count=posts + 1)
    assert "124" in told[-1].args["text"] and "Finance" in rendered(told[-1].args)
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        binding = await repo.get(TEAM, CHANNEL)
        assert binding is not None and binding.workspace_id == 124
        assert await repo.muted_backup_ids(binding.id) == set()
    ended = await stack.slack.wait_for(
        "chat.update", lambda c: c.ok and c.args.get("ts") == card_ts
    )
    assert "no longer watched" in rendered(ended[-1].args)
    assert "connected to workspace 124" in rendered(ended[-1].args)
    status = await stack.reply_to("status")
    assert "No snapshot started from this channel is running" in rendered(status)


async def test_confirm_connect_is_for_admins_only(bound: Stack) -> None:
    stack = bound
    ask = await stack.reply_to("connect 124", user=ADMIN)
    response_id = await click(stack, ask, ActionId.CONFIRM_CONNECT, user=MEMBER)
    refused = await stack.slack.wait_for_responses(response_id)
    assert "Only admins" in refused[0].body["text"]
    async with stack.bot.container.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None and binding.workspace_id == 123


# -- 4: disconnect ends the watched cards --------------------------------------------------------


async def test_disconnect_ends_every_watched_card_of_the_channel(bound: Stack) -> None:
    stack = bound
    _, card_ts = await start_from_slack(stack)
    await stack.command("disconnect", user=ADMIN)
    updated = await stack.slack.wait_for(
        "chat.update", lambda c: c.ok and c.args.get("ts") == card_ts
    )
    text = rendered(updated[-1].args)
    assert "no longer watched" in text and "disconnected" in text and f"<@{ADMIN}>" in text
    card = stack.slack.message(CHANNEL, card_ts)
    assert "no longer watched" in card.text + str(card.blocks)


# -- 8: "already running" links the run and says who started it ----------------------------------


async def test_already_running_links_the_card_and_names_who_started_it(bound: Stack) -> None:
    stack = bound
    stack.sim.state.backups[456].run_seconds = 3600.0  # still running on a slow, shared machine
    _, card_ts = await start_from_slack(stack)
    refused = await stack.reply_to("snapshot 456", user=ADMIN)
    text = rendered(refused)
    permalink = stack.slack.calls_to("chat.getPermalink")
    assert permalink and permalink[-1].ok and permalink[-1].args["message_ts"] == card_ts
    assert permalink[-1].response["permalink"] in text
    assert f"<@{MEMBER}>" in text and "<!date^" in text
    assert skyvia_calls(stack)[START] == 1


async def test_already_running_outside_slack_says_so(bound: Stack) -> None:
    stack = bound
    stack.sim.state.start_snapshot(456)
    refused = await stack.reply_to("snapshot 456")
    assert "outside Slack" in rendered(refused)
    assert START not in skyvia_calls(stack)
