"""Slack Connect members and guests, through the real app: they may read, never change.

A member of another organisation in a shared channel is an admin of *their* workspace, so
`users.info` says `is_admin`; only their `team_id` tells them apart. Guests are
`is_restricted`. Both are refused every change with a message naming that rule, and nothing
reaches Skyvia or the channel.
"""

from __future__ import annotations

from bot.devtools.slack_standin import FakeSlack
from bot.slack.messages.ids import ActionId
from storage.repositories import BindingRepository
from tests.constants import CHANNEL, MEMBER, TEAM
from tests.e2e.backup_kit import DISABLE, click, skyvia_calls
from tests.e2e.bot_fixtures import Stack

THEIR_ADMIN = "U0THEIRADMIN"
GUEST = "U0GUEST"
SINGLE_GUEST = "U0SINGLE"
GRID = "U0GRID"
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


UNKNOWN = "Slack could not say who you are"


async def test_a_change_is_refused_when_slack_cannot_say_who_asks(bound: Stack) -> None:
    """Fail closed: a guest whose `users.info` errors is no operator (a guest changed a
    schedule so), and the failed lookup is not remembered: the next try asks Slack again."""
    stack = bound
    add_outsiders(stack.slack)
    stack.slack.fail_next("users.info", "fatal_error", status=200, times=2)
    for user in (GUEST, MEMBER):
        body = await stack.reply_to("schedule 456 off", user=user)
        assert UNKNOWN in body["text"], body["text"]
    assert DISABLE not in skyvia_calls(stack)

    refused = await stack.reply_to("schedule 456 off", user=GUEST)
    assert "Guests can't" in refused["text"], refused["text"]
    await stack.command("schedule 456 off", user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: "disabled the schedule" in c.args.get("text", "")
    )
    assert skyvia_calls(stack)[DISABLE] == 1


async def test_a_grid_member_of_a_sister_workspace_may_click_as_they_may_type(
    bound: Stack,
) -> None:
    """Enterprise Grid: a member of another workspace of the same org is no outsider, and their
    click names their own workspace (`user.team_id`): the same rule as for their commands."""
    stack = bound
    stack.slack.add_user(GRID, name="gil", team_id="T0SISTER", grid_teams=(TEAM, "T0SISTER"))
    stack.send.user_teams[GRID] = "T0SISTER"
    await stack.command("alerts mute 457", user=GRID)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: "muted failure alerts" in c.args.get("text", "")
    )

    alert = {"blocks": [], "text": "Snapshot failed", "ts": "1700000000.000300"}
    await click(stack, alert, ActionId.MUTE_BACKUP, user=GRID, value='{"backup_id":456}')
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: "muted failure alerts for Nightly" in c.args.get("text", "")
    )
    async with stack.bot.container.db.session() as session:
        repo = BindingRepository(session)
        binding = await repo.get(TEAM, CHANNEL)
        assert binding is not None
        assert await repo.muted_backup_ids(binding.id) == {456, 457}
