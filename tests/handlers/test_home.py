"""The Home tab's visibility cache: answers are reused for a while, and it stays bounded."""

from __future__ import annotations

from typing import Any, cast

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.home import ChannelVisibility
from tests.constants import MEMBER


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
