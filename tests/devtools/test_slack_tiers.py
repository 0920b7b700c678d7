"""The Slack stand-in's rate-limit tiers, seen through slack_sdk over real HTTP.

The bot paces itself to Slack's tiers (docs/reference/guarantees.md#delivery-at-slacks-pace);
benchmarks and the soak measure that pace against this stand-in, so its buckets must refuse what
Slack refuses, say when to come back, and do nothing for a refused call. Time is a clock the
tests move, not a sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_standin import FakeSlack, running_fake_slack
from bot.devtools.slack_tiers import TIER_3, Limit, SlackTiers

OTHER_TOKEN = "xoxb-other-team"


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def tiered(clock: Clock) -> AsyncIterator[FakeSlack]:
    """A stand-in with Slack's documented tiers on, and a second workspace's token."""
    async with running_fake_slack(tiers=SlackTiers.documented(), clock=clock) as slack:
        slack.add_token(OTHER_TOKEN, team_id="T0OTHER", user_id="U0BOT2", bot_id="B0BOT2")
        yield slack


def client_of(slack: FakeSlack, token: str | None = None) -> AsyncWebClient:
    # No retry handlers: the 429 must reach the test, not be waited out by slack_sdk.
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.api_url, retry_handlers=[])


async def refusal(call: Any) -> tuple[str, int, str]:
    """(error, HTTP status, Retry-After) of a call that must fail."""
    with pytest.raises(SlackApiError) as raised:
        await call
    response = raised.value.response
    headers = {k.lower(): v for k, v in response.headers.items()}
    retry_after = headers.get("retry-after")
    value = retry_after[0] if isinstance(retry_after, list) else retry_after
    return str(response["error"]), response.status_code, str(value)


async def post_burst(client: AsyncWebClient, channel: str, count: int) -> None:
    for i in range(count):
        await client.chat_postMessage(channel=channel, text=f"{channel} {i}")


async def test_a_burst_to_one_channel_is_answered_429_past_the_burst_and_posts_nothing(
    tiered: FakeSlack,
) -> None:
    client = client_of(tiered)
    burst = SlackTiers.documented().post_per_channel
    assert burst is not None
    await post_burst(client, "C1", burst.burst)

    answer = await refusal(client.chat_postMessage(channel="C1", text="one too many"))

    assert answer == ("ratelimited", 429, "1")
    assert [m.text for m in tiered.messages("C1")] == [f"C1 {i}" for i in range(burst.burst)]
    assert tiered.rate_limited_calls("chat.postMessage") == 1
    assert tiered.rate_limited_calls() == 1
    assert tiered.call_counts()["chat.postMessage"] == burst.burst + 1
    refused = tiered.calls_to("chat.postMessage")[-1]
    assert refused.status == 429 and refused.limited_by == "T0TEST chat.postMessage C1"


async def test_a_second_channel_is_not_held_by_the_first_channels_bucket(
    tiered: FakeSlack,
) -> None:
    client = client_of(tiered)
    await post_burst(client, "C1", 3)
    assert (await refusal(client.chat_postMessage(channel="C1", text="held")))[1] == 429

    answer = await client.chat_postMessage(channel="C2", text="C2 is free")

    assert answer["ok"] and [m.text for m in tiered.messages("C2")] == ["C2 is free"]


async def test_after_retry_after_seconds_the_channel_takes_a_post_again(
    tiered: FakeSlack, clock: Clock
) -> None:
    client = client_of(tiered)
    await post_burst(client, "C1", 3)
    assert await refusal(client.chat_postMessage(channel="C1", text="early")) == (
        "ratelimited",
        429,
        "1",
    )
    clock.advance(0.5)  # half a token back: still refused, and still told to wait a second
    assert (await refusal(client.chat_postMessage(channel="C1", text="early")))[2] == "1"

    clock.advance(0.5)
    answer = await client.chat_postMessage(channel="C1", text="on time")

    assert answer["ok"] and tiered.messages("C1")[-1].text == "on time"
    assert len(tiered.messages("C1")) == 4
    # One second bought one post: the channel is at Slack's pace, not a fresh burst.
    assert (await refusal(client.chat_postMessage(channel="C1", text="again")))[1] == 429


async def test_post_message_also_has_a_workspace_wide_limit(clock: Clock) -> None:
    tiers = SlackTiers.documented().with_limits({"chat.postMessage": Limit(60, burst=2)})
    async with running_fake_slack(tiers=tiers, clock=clock) as slack:
        slack.add_token(OTHER_TOKEN, team_id="T0OTHER", user_id="U0BOT2", bot_id="B0BOT2")
        client = client_of(slack)
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_postMessage(channel="C2", text="two")

        assert (await refusal(client.chat_postMessage(channel="C3", text="three")))[1] == 429
        assert slack.messages("C3") == []
        assert slack.calls[-1].limited_by == "T0TEST chat.postMessage"
        other = await client_of(slack, OTHER_TOKEN).chat_postMessage(channel="C3", text="T2")
        assert other["ok"]
        assert [c.team_id for c in slack.calls] == ["T0TEST"] * 3 + ["T0OTHER"]
        assert {c.at for c in slack.calls} == {clock.now}  # the stand-in's clock, not the wall's


async def test_a_refused_call_takes_no_token_from_any_bucket(clock: Clock) -> None:
    tiers = SlackTiers.documented().with_limits({"chat.postMessage": Limit(60, burst=4)})
    async with running_fake_slack(tiers=tiers, clock=clock) as slack:
        client = client_of(slack)
        await post_burst(client, "C1", 3)  # C1's burst; one workspace token left
        for _ in range(3):  # refused by C1's bucket: the workspace's last token stays
            assert (await refusal(client.chat_postMessage(channel="C1", text="held")))[1] == 429

        assert (await client.chat_postMessage(channel="C2", text="the last token"))["ok"]
        assert (await refusal(client.chat_postMessage(channel="C3", text="none left")))[1] == 429


async def test_chat_update_is_limited_per_workspace_and_a_refused_edit_changes_nothing(
    tiered: FakeSlack,
) -> None:
    client, other = client_of(tiered), client_of(tiered, OTHER_TOKEN)
    cards = [(await client.chat_postMessage(channel=f"C{i}", text="card"))["ts"] for i in (1, 2)]
    theirs = (await other.chat_postMessage(channel="C9", text="their card"))["ts"]
    for n in range(TIER_3.burst):  # spread over two channels: the bucket is the workspace's
        await client.chat_update(channel=f"C{n % 2 + 1}", ts=cards[n % 2], text=f"edit {n}")

    answer = await refusal(client.chat_update(channel="C1", ts=cards[0], text="refused"))

    assert answer == ("ratelimited", 429, "2")  # Tier 3: 50 a minute, a token every 1.2 s
    card = tiered.message("C1", cards[0])
    assert card.text == f"edit {TIER_3.burst - 2}" and card.edits == TIER_3.burst // 2
    assert (await other.chat_update(channel="C9", ts=theirs, text="theirs moves"))["ok"]
    assert tiered.rate_limited_counts() == {"chat.update": 1}


async def test_a_workspace_bucket_refills_at_its_tiers_rate(
    tiered: FakeSlack, clock: Clock
) -> None:
    client = client_of(tiered)
    card = (await client.chat_postMessage(channel="C1", text="card"))["ts"]
    for n in range(TIER_3.burst):
        await client.chat_update(channel="C1", ts=card, text=f"edit {n}")

    clock.advance(1.0)  # 50 a minute: 5/6 of a token so far
    assert (await refusal(client.chat_update(channel="C1", ts=card, text="early")))[2] == "1"
    clock.advance(0.2)
    assert (await client.chat_update(channel="C1", ts=card, text="on time"))["ok"]
    assert tiered.message("C1", card).text == "on time"


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "psst"}),
        ("users.info", {"user": "U1"}),
        ("views.publish", {"user_id": "U1", "view": {"type": "home", "blocks": []}}),
    ],
)
async def test_tier_4_methods_take_a_generous_burst_then_429(
    tiered: FakeSlack, method: str, args: dict[str, Any]
) -> None:
    tiered.add_user("U1")
    client = client_of(tiered)
    for _ in range(20):
        assert (await client.api_call(method, json=args))["ok"]

    answer = await refusal(client.api_call(method, json=args))

    assert answer == ("ratelimited", 429, "1")
    assert tiered.rate_limited_counts() == {method: 1}


async def test_outside_the_marketplace_history_is_read_once_a_minute_15_a_page(
    clock: Clock,
) -> None:
    tiers = SlackTiers.documented(outside_marketplace=True)
    async with running_fake_slack(tiers=tiers, clock=clock) as slack:
        client = client_of(slack)
        await client.conversations_history(channel="C1", limit=100)
        assert slack.calls_to("conversations.history")[-1].args["limit"] == 15

        assert (await refusal(client.conversations_history(channel="C1")))[1:] == (429, "60")
        clock.advance(60)
        assert (await client.conversations_history(channel="C1"))["ok"]


async def test_inside_the_marketplace_history_is_tier_3(tiered: FakeSlack) -> None:
    client = client_of(tiered)
    for _ in range(TIER_3.burst):
        await client.conversations_history(channel="C1", limit=100)
    assert int(tiered.calls_to("conversations.history")[-1].args["limit"]) == 100
    assert (await refusal(client.conversations_history(channel="C1")))[1] == 429


async def test_without_tiers_nothing_is_ever_answered_429(slack: FakeSlack) -> None:
    client = client_of(slack)
    await post_burst(client, "C1", 30)
    ts = slack.messages("C1")[0].ts
    for n in range(60):
        await client.chat_update(channel="C1", ts=ts, text=f"edit {n}")
    for _ in range(5):
        await client.conversations_history(channel="C1")

    assert slack.tiers is None and slack.rate_limited_calls() == 0
    assert all(call.status == 200 for call in slack.calls)
    assert slack.call_counts() == {
        "chat.postMessage": 30,
        "chat.update": 60,
        "conversations.history": 5,
    }


async def test_tiers_switched_on_and_off_while_serving(slack: FakeSlack) -> None:
    client = client_of(slack)
    await post_burst(client, "C1", 5)
    slack.enable_tiers()  # the documented tiers, buckets full
    await post_burst(client, "C1", 3)
    assert (await refusal(client.chat_postMessage(channel="C1", text="held")))[1] == 429

    slack.reset_call_counts()
    slack.disable_tiers()
    await post_burst(client, "C1", 3)
    assert slack.call_counts() == {"chat.postMessage": 3} and slack.rate_limited_calls() == 0


async def test_slack_sdks_rate_limit_handler_waits_out_retry_after() -> None:
    """With the real clock: slack_sdk reads the stand-in's `Retry-After` and comes back."""
    async with running_fake_slack(tiers=SlackTiers.documented()) as slack:
        retrying = AsyncWebClient(
            token=slack.bot_token,
            base_url=slack.api_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        await post_burst(retrying, "C1", 4)  # the fourth waits a second, then posts
        assert [c.status for c in slack.calls] == [200, 200, 200, 429, 200]
        assert len(slack.messages("C1")) == 4


def test_tiers_are_named_for_command_lines() -> None:
    named = SlackTiers.named
    assert named("off") is None
    assert named("documented") == SlackTiers.documented()
    outside = named("outside-marketplace")
    assert outside is not None and outside.history_page_limit == 15
    with pytest.raises(ValueError, match="documented"):
        named("fast")


def test_a_limit_needs_a_rate_and_room_for_one_call() -> None:
    for per_minute, burst in ((0, 1), (-1, 1), (10, 0)):
        with pytest.raises(ValueError, match="limit"):
            Limit(per_minute, burst)
