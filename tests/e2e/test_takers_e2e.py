""" "I'm on it" end to end (docs/reference/messages.md#im-on-it): the real bot over HTTP, the
simulator, the Slack stand-in. A click takes the alert (header and thread say so), a second
person joins, the first clicks again to step back and again to come back; each click is owed
once through the outbox, a guest may only read, and `health` names failing backups nobody is on.
"""

from __future__ import annotations

from typing import Any

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.slack.messages.ids import ActionId
from tests.constants import BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import (
    assert_valid_payloads,
    audit_actions,
    click,
    click_and_reply,
    connect,
    line_of,
    rendered,
)
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready, kind_of

LEE = "U0LEE"
GUEST = "U0GUEST"


def _taker_replies(stack: Stack, alert_ts: str) -> list[PostedMessage]:
    return [
        m
        for m in stack.slack.thread(CHANNEL, alert_ts)
        if (kind_of(m) or "").startswith(("take:", "untake:"))
    ]


async def _alert(stack: Stack) -> dict[str, Any]:
    await connect(stack)
    await cursors_ready(stack.bot.container.db)
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    [alert] = await wait_until(lambda: alerts_in(stack.slack, CHANNEL, failed.id), what="alert")
    return stack.slack.message_payload(CHANNEL, alert.ts)


def _header(stack: Stack, ts: str) -> str:
    return rendered(stack.slack.message_payload(CHANNEL, ts))


async def _take(stack: Stack, alert_ts: str, user: str, replies: int, header: str) -> None:
    """Clicks `I'm on it` on the alert as it is now, then waits for the header and the reply."""
    await click(
        stack, stack.slack.message_payload(CHANNEL, alert_ts), ActionId.TAKE_ALERT, user=user
    )
    await wait_until(
        lambda: (
            len(_taker_replies(stack, alert_ts)) == replies and header in _header(stack, alert_ts)
        ),
        what=f"{header!r} and reply {replies}",
    )


async def test_take_join_step_back_and_take_again(stack: Stack) -> None:
    stack.slack.add_user(LEE, name="lee")
    alert = await _alert(stack)
    ts = alert["ts"]
    assert "I'm on it" in rendered(alert)

    await _take(stack, ts, MEMBER, 1, f"<@{MEMBER}> is on it")
    await _take(stack, ts, LEE, 2, f"<@{MEMBER}> and <@{LEE}> are on it")
    await _take(stack, ts, MEMBER, 3, f"<@{LEE}> is on it")
    await _take(stack, ts, MEMBER, 4, f"<@{LEE}> and <@{MEMBER}> are on it")

    texts = [m.text for m in _taker_replies(stack, ts)]
    assert f"<@{MEMBER}> is on it" in texts[0]
    assert f"<@{LEE}> is on it" in texts[1]
    assert f"<@{MEMBER}> stepped back" in texts[2]
    assert f"<@{MEMBER}> is on it" in texts[3]  # a second take is told again, not swallowed
    await stack.bot.after_ticks(2)
    assert len(_taker_replies(stack, ts)) == 4  # each once
    header = stack.slack.message_payload(CHANNEL, ts)
    assert "Nightly CRM" in rendered(header) and "Run snapshot" in rendered(header)
    assert rendered(header).count(":eyes:") == 1  # the line is replaced, never stacked

    actions = [(a, u) for a, u, _, _ in await audit_actions(stack) if a.startswith("alert ")]
    assert actions == [
        ("alert taken", MEMBER),
        ("alert taken", LEE),
        ("alert released", MEMBER),
        ("alert taken", MEMBER),
    ]
    assert_valid_payloads(stack.slack)


async def test_a_guest_may_not_take_an_alert(stack: Stack) -> None:
    stack.slack.add_user(GUEST, name="gus", guest="multi")
    alert = await _alert(stack)
    answer = await click_and_reply(stack, alert, ActionId.TAKE_ALERT, user=GUEST)
    assert "Guests can't take an alert" in rendered(answer)
    await stack.bot.after_ticks(1)
    assert _taker_replies(stack, alert["ts"]) == []
    assert ":eyes:" not in _header(stack, alert["ts"])


async def test_health_names_the_failing_backups_nobody_is_on(stack: Stack) -> None:
    alert = await _alert(stack)
    before = await stack.reply_to("health")
    # The seed has three failing backups; nobody is on any of them yet.
    assert "nobody is on any of them" in before["text"]
    assert "nobody on it" in line_of(before, "Nightly CRM")

    await _take(stack, alert["ts"], MEMBER, 1, f"<@{MEMBER}> is on it")
    after = await stack.reply_to("health")
    assert "nobody is on 2 of them" in after["text"]
    line = line_of(after, "Nightly CRM")
    assert f"<@{MEMBER}> is on it" in line and "nobody" not in line


async def test_a_further_failure_keeps_who_is_on_it_in_the_header(stack: Stack) -> None:
    alert = await _alert(stack)
    ts = alert["ts"]
    await _take(stack, ts, MEMBER, 1, f"<@{MEMBER}> is on it")
    stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: "2 failed snapshots in a row" in _header(stack, ts), what="the streak header"
    )
    assert f"<@{MEMBER}> is on it" in _header(stack, ts)


async def test_a_double_click_takes_once(stack: Stack) -> None:
    alert = await _alert(stack)
    for _ in range(2):  # both clicks on the alert as it was: neither saw the other
        await click(stack, alert, ActionId.TAKE_ALERT, user=MEMBER)
    await wait_until(lambda: f"<@{MEMBER}> is on it" in _header(stack, alert["ts"]))
    # The reply waits for the channel's pace (a post a second); the header edit does not.
    await wait_until(lambda: _taker_replies(stack, alert["ts"]), what="the reply")
    await stack.bot.after_ticks(3)
    assert len(_taker_replies(stack, alert["ts"])) == 1
    assert ":eyes:" in _header(stack, alert["ts"])  # still on it: not taken and given back
