"""Personal subscriptions end to end (docs/reference/commands.md#personal-subscriptions): the
real bot over HTTP, the simulator, the Slack stand-in. A subscriber gets the failures and the
recovery of the backups they follow by DM, once each however many scans re-read them; others
get nothing; leaving the channel or the workspace ends it; App Home lists them.
"""

from __future__ import annotations

import json

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER, TEAM
from tests.e2e.backup_kit import assert_valid_payloads, audit_actions, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready, failures_told, kind_of

OTHER_BACKUP = 457


def _dms(stack: Stack, user: str, kind: str = "dm_failed") -> list[PostedMessage]:
    return [m for m in stack.slack.messages(user) if kind_of(m) == kind]


async def _ready(stack: Stack) -> None:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)


async def test_a_subscriber_gets_failures_and_the_recovery_by_dm_once(stack: Stack) -> None:
    await _ready(stack)
    answer = await stack.reply_to(f"subscribe {BACKUP}")
    assert "You will get failures and recoveries of backup 456" in rendered(answer)
    assert "already" in rendered(await stack.reply_to(f"subscribe {BACKUP}"))

    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    [dm] = await wait_until(lambda: _dms(stack, MEMBER), what="the failure DM")
    assert (
        f"Snapshot {failed.id} of *Nightly CRM* (456) failed" in dm.text
        or str(failed.id) in dm.text
    )
    assert f"<#{CHANNEL}>" in rendered(stack.slack.message_payload(MEMBER, dm.ts))
    other = stack.sim.state.run_scheduled_now(OTHER_BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, other.id), what="457's alert")

    good = stack.sim.state.run_scheduled_now(BACKUP)
    [recovered] = await wait_until(
        lambda: _dms(stack, MEMBER, "dm_recovered"), what="the recovery DM"
    )
    assert f"snapshot {good.id} succeeded after 1 failure" in rendered(
        stack.slack.message_payload(MEMBER, recovered.ts)
    )
    await stack.bot.after_ticks(3)  # more scans re-read all of it: still once each
    assert [m.metadata["event_payload"]["snapshot_id"] for m in _dms(stack, MEMBER)] == [failed.id]
    assert len(_dms(stack, MEMBER, "dm_recovered")) == 1
    assert stack.slack.messages(ADMIN) == []  # not subscribed: nothing
    assert ("subscribe", MEMBER, "ok", "backup 456") in await audit_actions(stack)
    assert_valid_payloads(stack.slack)


async def test_subscribe_all_list_and_unsubscribe(stack: Stack) -> None:
    await _ready(stack)
    assert "You get no DMs" in rendered(await stack.reply_to("subscriptions"))
    await stack.reply_to("subscribe all")
    assert "every backup" in rendered(await stack.reply_to("subscriptions"))
    failed = stack.sim.state.run_scheduled_now(OTHER_BACKUP, fail=True)
    await wait_until(lambda: _dms(stack, MEMBER), what="a DM of any backup")
    assert _dms(stack, MEMBER)[0].metadata["event_payload"]["snapshot_id"] == failed.id

    assert "unsubscribe all" in rendered(await stack.reply_to(f"unsubscribe {BACKUP}"))
    assert "no longer" in rendered(await stack.reply_to("unsubscribe all"))
    again = stack.sim.state.run_scheduled_now(OTHER_BACKUP, fail=True)
    await wait_until(lambda: failures_told(stack.slack, CHANNEL, again.id), what="the channel")
    await stack.bot.after_ticks(2)
    assert len(_dms(stack, MEMBER)) == 1


async def test_bad_input_is_answered_with_the_usage(stack: Stack) -> None:
    await _ready(stack)
    for text in ("subscribe", "subscribe abc", "unsubscribe 1 2", "subscriptions 4"):
        answer = rendered(await stack.reply_to(text))
        assert "/skyvia subscri" in answer or "/skyvia unsubscribe" in answer, (text, answer)


async def test_leaving_the_channel_or_the_workspace_ends_the_dms(stack: Stack) -> None:
    await _ready(stack)
    stack.slack.add_user("U0LEE", name="lee")
    await stack.reply_to(f"subscribe {BACKUP}")
    await stack.reply_to("subscribe all", user="U0LEE")
    await stack.send.event(
        {"type": "member_left_channel", "user": MEMBER, "channel": CHANNEL, "team": TEAM}
    )
    await stack.send.event(
        {"type": "user_change", "user": {"id": "U0LEE", "team_id": TEAM, "deleted": True}}
    )
    await stack.bot.listeners.idle()
    assert "You get no DMs" in rendered(await stack.reply_to("subscriptions"))

    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="the alert")
    await stack.bot.after_ticks(2)
    assert _dms(stack, MEMBER) == [] and _dms(stack, "U0LEE") == []


async def test_app_home_lists_what_the_person_follows(stack: Stack) -> None:
    stack.slack.add_channel(CHANNEL, name="ops")  # public: everyone sees it on the Home tab
    await _ready(stack)
    await stack.reply_to(f"subscribe {BACKUP}")
    response = await stack.send.app_home_opened(MEMBER)
    assert response.status_code == 200
    [call] = await stack.slack.wait_for("views.publish", lambda c: c.ok, count=1)
    home = json.dumps(call.args["view"])
    assert "you get failures and recoveries of" in home and "(456) by DM" in home
    await stack.send.app_home_opened(ADMIN)
    calls = await stack.slack.wait_for("views.publish", lambda c: c.ok, count=2)
    assert "by DM" not in json.dumps(calls[-1].args["view"])  # only the viewer's own


async def test_a_dm_of_an_all_subscription_says_unsubscribe_all_stops_it(stack: Stack) -> None:
    """`unsubscribe 456` would not stop a DM that `subscribe all` brought: the hint names the
    subscription that did (issue 19, found in round 2's walk)."""
    await _ready(stack)
    await stack.reply_to("subscribe all")
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    [dm] = await wait_until(lambda: _dms(stack, MEMBER), what="the failure DM")
    shown = rendered(stack.slack.message_payload(MEMBER, dm.ts))
    assert str(failed.id) in shown
    assert "`/skyvia unsubscribe all` there stops these" in shown, shown
    stack.sim.state.run_scheduled_now(BACKUP)
    [recovered] = await wait_until(
        lambda: _dms(stack, MEMBER, "dm_recovered"), what="the recovery DM"
    )
    shown = rendered(stack.slack.message_payload(MEMBER, recovered.ts))
    assert "`/skyvia unsubscribe all` there stops these" in shown, shown
