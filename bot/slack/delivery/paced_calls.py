"""A listener's own Slack call at the pace the outbox's senders keep (issue 17).

Most of what the bot says goes through the outbox, whose senders ask the process's buckets
(`bot.slack.delivery.pacing`) before each call. A few calls are made while a request is handled:
a snapshot's card (its `ts` is recorded on the watch), a command's answer in the channel, the
edit of a clicked message. Made as fast as people type, they met the channel's limit: 500 cards
in 20 channels at 50 commands a second had a third of their posts answered 429, each slept out by
slack_sdk inside the call, and a card still asleep when its time was up was read back from the
channel's history, whose limit refused most of those reads in turn (benchmarks, ack section with
Slack's tiers: 47 % of all calls answered 429).

So these calls take their turn from the same buckets: they wait for it (never past `within`
seconds), a 429 that still comes holds the bucket for every sender of the process and the call
waits for its next turn (a 429 says Slack did nothing, so calling again cannot duplicate), and
when no turn comes in time the caller gets `SlackBusy`: nothing was sent. A card is then owed
to the outbox (`SnapshotService`), and an answer is told to the user alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from bot.services.errors import SlackBusy
from bot.slack.clients import callers_pace
from bot.slack.delivery.errors import retry_after_of, status_of
from bot.slack.delivery.pacing import Pace

T = TypeVar("T")

RETRY_AFTER_UNSAID = 1.0
"""Seconds a 429 that named no `Retry-After` holds its bucket: Slack's usual answer for posts."""


async def paced(
    pace: Pace,
    team_id: str,
    method: str,
    channel_id: str | None,
    call: Callable[[], Awaitable[T]],
    *,
    within: float,
) -> T:
    """`call()` once a turn of `method` (for this team, and the channel's for a post) is free;
    `SlackBusy` when none comes within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        await _turn(pace, team_id, method, channel_id, deadline)
        try:
            with callers_pace():
                return await call()
        except SlackApiError as exc:
            if status_of(exc) != 429:
                raise
            pace.hold(team_id, method, channel_id, retry_after_of(exc, RETRY_AFTER_UNSAID))


async def _turn(
    pace: Pace, team_id: str, method: str, channel_id: str | None, deadline: float
) -> None:
    """Spends a turn of the buckets, sleeping until one is due; `SlackBusy` past `deadline`."""
    while not pace.take(team_id, method, channel_id):
        wait = pace.wait(team_id, method, channel_id)
        if time.monotonic() + wait > deadline:
            raise SlackBusy(retry_after=wait)
        # Another caller may take the turn first (the senders ask every round): ask again.
        await asyncio.sleep(max(wait, 0.001))
