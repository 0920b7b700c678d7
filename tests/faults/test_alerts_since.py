"""A repeated `alerts on` or a re-`connect` to the same workspace loses no alert.

Either used to move the channel's `alerts_since` to now, so a failure that had ended just before
and was not announced yet was dropped for good. The real bot over HTTP; the failure reaches the
simulator's listing only once the command is done (a listing may lag the end of a run), so no
scan can announce it first.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.devtools.slack_standin import SlackCall
from bot.devtools.waiting import wait_until
from tests.constants import ADMIN, BACKUP, CHANNEL
from tests.e2e.backup_kit import connect
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready
from tests.faults.pinned import pinned_failure, wall_now


def _confirmations(stack: Stack) -> list[SlackCall]:
    return [
        c
        for c in stack.slack.calls_to("chat.postMessage")
        if c.ok and c.args["channel"] == CHANNEL and not c.args.get("metadata")
    ]


@pytest.mark.parametrize("again", ["alerts on", "connect 123"])
async def test_failure_that_ended_just_before_is_still_announced(stack: Stack, again: str) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    ended = wall_now()
    before = len(_confirmations(stack))
    response_id = await stack.command(again, user=ADMIN)
    # A change is confirmed to the channel; a repeat ("already on") to the admin only.
    await wait_until(
        lambda: len(_confirmations(stack)) > before or stack.slack.responses(response_id),
        what=f"`{again}` confirmed",
    )
    failed = pinned_failure(stack.sim, BACKUP, started=ended - timedelta(seconds=30), ended=ended)

    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await stack.bot.after_ticks(3)
    assert len(alerts_in(stack.slack, CHANNEL, failed.id)) == 1
