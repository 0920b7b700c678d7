"""Slack Connect members and guests, through the real app: they may read, never change.

A member of another organisation in a shared channel is an admin of *their* workspace, so
`users.info` says `is_admin`; only their `team_id` tells them apart. Guests are
`is_restricted`. Both are refused every change with a message naming that rule, and nothing
reaches Skyvia or the channel.
"""

from __future__ import annotations

from bot.devtools.slack_standin import FakeSlack
from bot.slack.ids import ActionId
from storage.repositories import BindingRepository
from tests.constants import CHANNEL, TEAM
from tests.e2e.backup_kit import click, skyvia_calls
from tests.e2e.bot_fixtures import Stack

THEIR_ADMIN = "U0THEIRADMIN"
GUEST = "U0GUEST"
SINGLE_GUEST = "U0SINGLE"
FOREIGN = "People from another organisation in a shared channel can't"


def add_outsiders(slack: FakeSlack) -> None:
    slack.add_user(THEIR_ADMIN, name="olga", is_owner=True, team_id="T0THEIRS")
    slack.add_user(GUEST, name="gus", guest="multi")
    slack.add_user(SINGLE_GUEST, name="sia", guest="single")


async def assert_unchanged(stack: Stack) -> None:
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        binding = await repo.get(TEAM, CHANNEL)
        assert binding is not None and binding.alerts_enabled
        assert await repo.muted_backup_ids(binding.id) == set()
    assert not any(c.ok for c in stack.slack.calls_to("chat.postMessage")[1:])


async def test_a_slack_connect_admin_may_read_but_is_refused_every_change(bound: Stack) -> None:
    stack = bound
    add_outsiders(stack.slack)
    status = await stack.reply_to("status", user=THEIR_ADMIN)
    assert "123" in status["text"] + str(status["blocks"])
    for text, rule in (
        ("disconnect", "disconnect a channel"),
        ("alerts off", "turn failure alerts on or off"),
        ("alerts mute 456", "mute or unmute"),
        ("connect 123", "connect a channel"),
    ):
        body = await stack.reply_to(text, user=THEIR_ADMIN)
        assert body["response_type"] == "ephemeral"
        assert f"{FOREIGN} {rule}" in body["text"], body["text"]
    assert skyvia_calls(stack) == {}
    await assert_unchanged(stack)


async def test_a_slack_connect_click_names_its_own_team_and_is_refused(bound: Stack) -> None:
    stack = bound
    add_outsiders(stack.slack)
    stack.send.user_teams[THEIR_ADMIN] = "T0THEIRS"
    alert = {"blocks": [], "text": "Snapshot failed", "ts": "1700000000.000300"}
    response_id = await click(
        stack, alert, ActionId.MUTE_BACKUP, user=THEIR_ADMIN, value='{"backup_id":456}'
    )
    answer = await stack.slack.wait_for_responses(response_id, count=1)
    assert FOREIGN in answer[0].body["text"]
    await assert_unchanged(stack)


async def test_guests_may_read_but_are_refused_every_change(bound: Stack) -> None:
    stack = bound
    add_outsiders(stack.slack)
    for guest in (GUEST, SINGLE_GUEST):
        status = await stack.reply_to("status", user=guest)
        assert "123" in status["text"] + str(status["blocks"])
        for text in ("disconnect", "alerts mute 456"):
            body = await stack.reply_to(text, user=guest)
            assert body["text"].startswith("Guests can't") or "Guests can't" in body["text"]
    assert skyvia_calls(stack) == {}
    await assert_unchanged(stack)
