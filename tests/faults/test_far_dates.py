"""Ends and limits at the edges of what a person can type are answered with the usage line.

`until 0001-01-01T00:00+05:00` is before the first moment Python can hold in UTC, and
`until 9999-12-31T23:59-05:00` after the last: converting them raised `OverflowError`, which the
handler did not expect, and the person read "Something went wrong". A staleness limit of one
second was accepted, and would have alerted on every scan.
"""

from __future__ import annotations

import pytest

from tests.constants import MEMBER
from tests.e2e.backup_kit import DISABLE, connect, rendered, skyvia_calls
from tests.e2e.bot_fixtures import Stack

WENT_WRONG = "Something went wrong"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("alerts mute 456 until 0001-01-01T00:00+05:00", "already past"),
        ("alerts mute 456 until 0001-01-01T00:00", "already past"),
        ("schedule 456 off until 9999-12-31T23:59-05:00", "more than 30 days away"),
        ("schedule 456 off until 9999-12-31T23:59", "more than 30 days away"),
    ],
)
async def test_an_end_beyond_what_a_clock_holds_is_a_usage_error(
    stack: Stack, text: str, why: str
) -> None:
    await connect(stack)
    answer = rendered(await stack.reply_to(text, user=MEMBER))
    assert WENT_WRONG not in answer and why in answer, answer
    assert DISABLE not in skyvia_calls(stack)


@pytest.mark.parametrize("limit", ["1s", "59s", "9m59s"])
async def test_a_staleness_limit_under_ten_minutes_is_refused(stack: Stack, limit: str) -> None:
    await connect(stack)
    answer = rendered(await stack.reply_to(f"alerts stale 456 {limit}", user=MEMBER))
    assert "at least `10m`" in answer, answer
    assert not stack.slack.calls_to("chat.postMessage")[1:]  # the channel was told nothing
