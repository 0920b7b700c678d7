"""A listener's Slack call takes its turn from the senders' buckets (`paced_calls.paced`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.services.errors import SlackBusy
from bot.slack.delivery.paced_calls import paced
from bot.slack.delivery.pacing import POST, Pace, PaceConfig

TEAM, CHANNEL = "T1", "C1"


def refused(status: int, error: str, retry_after: str | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={"Retry-After": retry_after} if retry_after is not None else {},
        status_code=status,
    )
    return SlackApiError(error, response)


class Calls:
    """A Slack call that answers from a script: an exception raises, anything else returns."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.made = 0

    async def __call__(self) -> Any:
        self.made += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_a_429_holds_the_bucket_for_every_sender_then_the_call_goes_again() -> None:
    pace = Pace()
    call = Calls(refused(429, "ratelimited", "1"), {"ts": "1.0"})
    going = asyncio.create_task(paced(pace, TEAM, POST, CHANNEL, call, within=5))
    await asyncio.sleep(0.2)
    # The 429 came back to us (slack_sdk slept nothing) and holds the channel for the senders.
    assert call.made == 1
    assert not pace.take(TEAM, POST, CHANNEL)
    assert 0.5 < pace.wait(TEAM, POST, CHANNEL) <= 1.0
    assert await going == {"ts": "1.0"}
    assert call.made == 2


async def test_no_turn_within_the_time_given_is_busy_and_calls_nothing() -> None:
    pace = Pace(PaceConfig.parse("channel=1/60+1"))
    assert pace.take(TEAM, POST, CHANNEL)  # someone else spent the channel's one post
    call = Calls({"ts": "1.0"})
    with pytest.raises(SlackBusy) as busy:
        await paced(pace, TEAM, POST, CHANNEL, call, within=5)
    assert call.made == 0
    assert 55 < busy.value.retry_after <= 60


async def test_a_turn_due_within_the_time_given_is_waited_for() -> None:
    pace = Pace(PaceConfig.parse("channel=5/1+1"))
    assert pace.take(TEAM, POST, CHANNEL)  # the next turn is 0.2 s away
    call = Calls({"ts": "1.0"})
    assert await paced(pace, TEAM, POST, CHANNEL, call, within=0.5) == {"ts": "1.0"}
    assert call.made == 1
    assert not pace.take(TEAM, POST, CHANNEL)  # and it spent that turn


async def test_a_429_past_the_time_given_is_busy_after_one_call() -> None:
    pace = Pace()
    call = Calls(refused(429, "ratelimited", "30"), {"ts": "1.0"})
    with pytest.raises(SlackBusy):
        await paced(pace, TEAM, POST, CHANNEL, call, within=5)
    assert call.made == 1


@pytest.mark.parametrize(("status", "error"), [(200, "channel_not_found"), (500, "fatal_error")])
async def test_other_refusals_reach_the_caller_and_are_not_called_again(
    status: int, error: str
) -> None:
    pace = Pace(PaceConfig.parse("channel=5/1+1"))
    call = Calls(refused(status, error), {"ts": "1.0"})
    with pytest.raises(SlackApiError):
        await paced(pace, TEAM, POST, CHANNEL, call, within=5)
    assert call.made == 1
    # Not held (a hold is a second at least): only the turn it spent is gone, 0.2 s at 5/s.
    assert pace.wait(TEAM, POST, CHANNEL) <= 0.2
