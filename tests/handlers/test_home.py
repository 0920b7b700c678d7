"""The App Home tab: `app_home_opened` -> `views.publish` with the channels the user can see.

End to end through the bot for what the tab shows; the visibility cache directly, with a stub
Slack, for how long answers are reused and how many are kept. See
docs/reference/commands.md#app-home.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.messages.ids import ActionId
from bot.slack.visibility import ChannelVisibility
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, TEAM
from tests.e2e.backup_kit import connect
from tests.e2e.bot_fixtures import Stack
from tests.e2e.home_kit import CREW, SECRET, open_home
from tests.storage.test_query_plans import captured


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlackChannels:
    """`conversations.list` and `users.conversations` over a few channels, a page of `page`
    channels at a time, tallying calls."""

    def __init__(self, private: dict[str, list[str]], public: set[str], page: int = 1000) -> None:
        self.private = private
        self.public = public
        self.page = page
        self.calls: list[tuple[str, str]] = []

    async def conversations_list(self, *, cursor: str | None, **_: Any) -> dict[str, Any]:
        self.calls.append(("list", cursor or ""))
        return self._page(sorted(self.public), cursor)

    async def users_conversations(
        self, *, user: str, cursor: str | None, **_: Any
    ) -> dict[str, Any]:
        self.calls.append(("mine", user))
        if user == "U0GONE":
            raise SlackApiError("user_not_found", cast(Any, {"error": "user_not_found"}))
        return self._page(sorted(c for c, m in self.private.items() if user in m), cursor)

    def _page(self, ids: list[str], cursor: str | None) -> dict[str, Any]:
        start = int(cursor or 0)
        more = start + self.page < len(ids)
        return {
            "channels": [{"id": c} for c in ids[start : start + self.page]],
            "response_metadata": {"next_cursor": str(start + self.page) if more else ""},
        }

    @property
    def client(self) -> AsyncWebClient:
        return cast(AsyncWebClient, self)


CHANNELS = ["C0CREW", "C0OPS", "C0GONE"]


async def test_answers_are_reused_until_the_ttl_passes() -> None:
    slack = SlackChannels({"C0CREW": [MEMBER]}, {"C0OPS"})
    clock = FakeClock()
    visibility = ChannelVisibility(ttl=60.0, clock=clock)
    for _ in range(2):
        seen = await visibility.visible(slack.client, TEAM, MEMBER, CHANNELS, members_only=False)
        assert seen == {"C0CREW", "C0OPS"}
    assert slack.calls == [("mine", MEMBER), ("list", "")]  # one list each, whatever the count
    clock.now += 61
    await visibility.visible(slack.client, TEAM, MEMBER, CHANNELS, members_only=False)
    assert slack.calls[2:] == [("mine", MEMBER), ("list", "")]


async def test_members_only_skips_the_public_channels_and_a_refusal_shows_nothing() -> None:
    slack = SlackChannels({"C0CREW": [MEMBER]}, {"C0OPS"})
    visibility = ChannelVisibility(clock=FakeClock())
    seen = await visibility.visible(slack.client, TEAM, MEMBER, CHANNELS, members_only=True)
    assert seen == {"C0CREW"} and ("list", "") not in slack.calls
    assert not await visibility.visible(slack.client, TEAM, "U0GONE", ["C0CREW"], members_only=True)


async def test_every_page_of_a_list_is_read() -> None:
    public = {f"C0PUB{i:02d}" for i in range(25)}
    slack = SlackChannels({}, public, page=10)
    visibility = ChannelVisibility(clock=FakeClock())
    seen = await visibility.visible(slack.client, TEAM, MEMBER, public, members_only=False)
    assert seen == public
    assert [c for c in slack.calls if c[0] == "list"] == [
        ("list", ""),
        ("list", "10"),
        ("list", "20"),
    ]


async def test_the_cache_holds_at_most_its_bound() -> None:
    users = ["U01", "U02", "U03"]
    slack = SlackChannels({}, {"C0OPS"})
    visibility = ChannelVisibility(max_cached=2, clock=FakeClock())
    for user in users:
        await visibility.visible(slack.client, TEAM, user, ["C0OPS"], members_only=True)
    assert len(visibility._mine) == 2
    await visibility.visible(slack.client, TEAM, users[2], ["C0OPS"], members_only=True)  # cached
    await visibility.visible(slack.client, TEAM, users[0], ["C0OPS"], members_only=True)  # went
    assert [user for _, user in slack.calls] == [*users, users[0]]


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
    # One list of the team's public channels and one of the user's, however many are bound.
    assert len(stack.slack.calls_to("conversations.list")) == 1
    assert len(stack.slack.calls_to("users.conversations")) == 1
    await open_home(stack, MEMBER, 2)
    await open_home(stack, ADMIN, 1)
    assert len(stack.slack.calls_to("conversations.list")) == 1
    assert len(stack.slack.calls_to("users.conversations")) == 2  # the admin's own
    assert stack.slack.calls_to("conversations.info") == []


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


GUEST = "U0GUEST"


async def test_a_guest_sees_only_the_channels_they_are_in(home_stack: Stack) -> None:
    """A guest is not shown every bound public channel (with Run and Show-log buttons), only
    the channels they are a member of."""
    stack = home_stack
    stack.slack.add_user(GUEST, name="gus", guest="multi")
    stack.slack.channel(CREW).members.append(GUEST)
    text = json.dumps(await open_home(stack, GUEST, 1))
    assert f"<#{CREW}>" in text
    assert f"<#{CHANNEL}>" not in text and f"<#{SECRET}>" not in text


async def _bind_many(stack: Stack, count: int, *, private: bool = False) -> list[str]:
    """`count` bound channels (straight into the database; `private`: ones only ADMIN is in),
    each with a mute, and workspaces 123..127 among them; returns their ids in Home's order."""
    ids = [f"C1{n:04d}" for n in range(count)]
    now = datetime.now(UTC)
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        for n, channel in enumerate(ids):
            stack.slack.add_channel(channel, name=f"team-{n}", is_private=private, members=[ADMIN])
            binding = await repo.upsert(
                team_id=TEAM,
                channel_id=channel,
                workspace_id=123 + n % 5,
                workspace_name=f"Workspace {n % 5}",
                token_ciphertext=None,
                created_by=ADMIN,
                now=now,
            )
            await repo.mute(binding.id, 456, muted_by=ADMIN, now=now)
    return ids


async def _statements_of_a_home(stack: Stack, user: str, publishes: int) -> int:
    with captured(stack.bot.container.db) as statements:
        await open_home(stack, user, publishes)
    return len(statements)


async def test_opening_home_costs_the_same_queries_however_many_channels(stack: Stack) -> None:
    await _bind_many(stack, 3)
    few = await _statements_of_a_home(stack, ADMIN, 1)
    await _bind_many(stack, 40)
    many = await _statements_of_a_home(stack, ADMIN, 2)
    assert many == few, (few, many)


async def test_a_private_channel_past_the_first_hundred_shows(stack: Stack) -> None:
    """Every bound channel is considered, not only the first 100 (by channel id)."""
    await _bind_many(stack, 120, private=True)
    stack.slack.add_channel("C9LAST", name="last", is_private=True, members=[MEMBER])
    await connect(stack, "C9LAST")
    text = json.dumps(await open_home(stack, MEMBER, 1))
    assert "<#C9LAST>" in text
