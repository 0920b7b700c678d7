"""The App Home tab: `app_home_opened` -> `views.publish` with the channels the user can see.

End to end through the bot for what the tab shows; the visibility cache directly, with a stub
Slack, for how long answers are reused and how many are kept. See
docs/reference/commands.md#app-home.
"""

from __future__ import annotations

import json
from typing import Any, cast

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.ids import ActionId
from handlers.home import ChannelVisibility
from tests.constants import ADMIN, CHANNEL, MEMBER
from tests.e2e.bot_fixtures import Stack
from tests.e2e.home_kit import CREW, SECRET, open_home


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlackChannels:
    """`conversations.info` and `conversations.members` over a few channels, tallying calls."""

    def __init__(self, private: dict[str, list[str]], public: set[str]) -> None:
        self.private = private
        self.public = public
        self.calls: list[tuple[str, str]] = []

    async def conversations_info(self, *, channel: str) -> dict[str, Any]:
        self.calls.append(("info", channel))
        if channel not in self.public and channel not in self.private:
            raise SlackApiError("channel_not_found", cast(Any, {"error": "channel_not_found"}))
        return {"channel": {"id": channel, "is_private": channel in self.private}}

    async def conversations_members(self, *, channel: str, **_: Any) -> dict[str, Any]:
        self.calls.append(("members", channel))
        return {"members": self.private[channel], "response_metadata": {"next_cursor": ""}}

    @property
    def client(self) -> AsyncWebClient:
        return cast(AsyncWebClient, self)


async def test_answers_are_reused_until_the_ttl_passes() -> None:
    slack = SlackChannels({"C0CREW": [MEMBER]}, {"C0OPS"})
    clock = FakeClock()
    visibility = ChannelVisibility(ttl=60.0, clock=clock)
    for _ in range(2):
        assert await visibility.visible(slack.client, "C0CREW", MEMBER)
        assert await visibility.visible(slack.client, "C0OPS", MEMBER)
        assert not await visibility.visible(slack.client, "C0GONE", MEMBER)
    assert len(slack.calls) == 4  # info for three channels, members for the private one
    clock.now += 61
    assert await visibility.visible(slack.client, "C0CREW", MEMBER)
    assert slack.calls[4:] == [("info", "C0CREW"), ("members", "C0CREW")]


async def test_the_cache_holds_at_most_its_bound() -> None:
    channels = [f"C0PUB{i}" for i in range(3)]
    slack = SlackChannels({}, set(channels))
    visibility = ChannelVisibility(max_cached=2, clock=FakeClock())
    for channel in channels:
        await visibility.visible(slack.client, channel, MEMBER)
    assert len(visibility._private) == 2
    await visibility.visible(slack.client, channels[2], MEMBER)  # still cached
    await visibility.visible(slack.client, channels[0], MEMBER)  # the oldest went
    assert [channel for _, channel in slack.calls] == [*channels, channels[0]]


async def test_home_shows_only_channels_the_user_can_see(home_stack: Stack) -> None:
    stack = home_stack
    view = await open_home(stack, MEMBER, 1)
    text = json.dumps(view)
    assert view["type"] == "home"
    assert f"<#{CHANNEL}>" in text and f"<#{CREW}>" in text
    assert f"<#{SECRET}>" not in text and "Finance sandbox" not in text
    assert "Operations" in text and "alerts on" in text
    assert stack.slack.home_view(MEMBER) is not None

    admin_view = await open_home(stack, ADMIN, 1)
    assert f"<#{SECRET}>" in json.dumps(admin_view)


async def test_home_shows_alert_state_and_snapshots_in_progress(home_stack: Stack) -> None:
    stack = home_stack
    await stack.command("alerts off", user=ADMIN, channel=CREW)
    await stack.command("snapshot 456", user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    run = stack.sim.state.snapshots_of(456)[-1]
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "turned failure alerts" in c.args["text"]
    )

    view = await open_home(stack, MEMBER, 1)
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    crew = next(s for s in sections if f"<#{CREW}>" in s)
    assert "alerts off" in crew
    progress = next(s for s in sections if "In progress" in s)
    assert f"Snapshot {run.id}" in progress and "Nightly CRM" in progress


async def test_visibility_is_cached_between_opens(home_stack: Stack) -> None:
    stack = home_stack
    await open_home(stack, MEMBER, 1)
    info_calls = len(stack.slack.calls_to("conversations.info"))
    member_calls = len(stack.slack.calls_to("conversations.members"))
    assert info_calls <= 3 and member_calls <= 2  # one per bound channel at most
    await open_home(stack, MEMBER, 2)
    await open_home(stack, ADMIN, 1)
    assert len(stack.slack.calls_to("conversations.info")) == info_calls
    assert len(stack.slack.calls_to("conversations.members")) == member_calls


async def test_other_tabs_publish_nothing(home_stack: Stack) -> None:
    stack = home_stack
    await stack.send.app_home_opened(MEMBER, tab="messages")
    await open_home(stack, ADMIN, 1)  # a later event is handled, the first published nothing
    assert stack.slack.home_view(MEMBER) is None


async def test_a_forged_home_click_on_an_invisible_channel_does_nothing(home_stack: Stack) -> None:
    stack = home_stack

    def secret_posts() -> int:
        calls = stack.slack.calls_to("chat.postEphemeral") + stack.slack.calls_to(
            "chat.postMessage"
        )
        return len([c for c in calls if c.args["channel"] == SECRET])

    before, runs = secret_posts(), len(stack.sim.state.snapshots_of(501))
    value = json.dumps({"channel_id": SECRET, "backup_id": 501, "snapshot_id": 1})
    for action_id in (ActionId.HOME_SHOW_LOG, ActionId.HOME_RUN_SNAPSHOT):
        response = await stack.send.block_action(
            action_id,
            value,
            user_id=MEMBER,
            channel_id=None,
            container={"type": "view", "view_id": "V0HOME"},
        )
        assert response.status_code == 200
    await open_home(stack, ADMIN, 1)  # a later event is handled: the clicks were done with
    assert secret_posts() == before
    assert len(stack.sim.state.snapshots_of(501)) == runs
