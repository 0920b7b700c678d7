"""`alerts mention` end to end: the real bot with its workers, the simulator, the fake Slack.

The mentions come as Slack sends them when the command escapes its text (`should_escape`):
`<@U…|name>` and `<!subteam^S…|@handle>`. They are stored with the binding (run this file with
TEST_DATABASE_URL for PostgreSQL) and drawn into that channel's failure alerts only.
"""

from __future__ import annotations

from bot.devtools.waiting import wait_until
from storage.repositories import BindingRepository
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready, kind_of

ONCALL = "S0ONCALL"
DANA = "U0DANA"
TYPED = f"alerts mention <!subteam^{ONCALL}|@data-oncall> <@{DANA}|dana>"


async def told(stack: Stack, channel: str, fragment: str) -> None:
    await stack.slack.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args["channel"] == channel and fragment in c.args["text"],
    )


async def stored_mentions(stack: Stack, channel: str = CHANNEL) -> str | None:
    async with stack.bot.container.db.session() as session:
        row = await BindingRepository(session).get(TEAM, channel)
    assert row is not None
    return row.alert_mentions


async def recover(stack: Stack) -> None:
    """A success closes the backup's failure episode, so its next failure is a new alert."""
    stack.sim.state.run_scheduled_now(BACKUP)
    for channel in (CHANNEL, OTHER_CHANNEL):
        await wait_until(
            lambda c=channel: [
                m
                for a in alerts_in(stack.slack, c)
                for m in stack.slack.thread(c, a.ts)
                if kind_of(m) == "recovered"
            ],
            what=f"recovery in {channel}",
        )


async def fail_once(stack: Stack) -> int:
    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    for channel in (CHANNEL, OTHER_CHANNEL):
        await wait_until(
            lambda c=channel: alerts_in(stack.slack, c, failed.id), what=f"alert in {channel}"
        )
    return failed.id


async def test_failure_alerts_mention_the_channels_people_and_groups(stack: Stack) -> None:
    for channel in (CHANNEL, OTHER_CHANNEL):
        await connect(stack, channel=channel)
    await stack.command(TYPED, user=ADMIN)
    await told(stack, CHANNEL, "mention")
    assert await stored_mentions(stack) == f"{ONCALL} {DANA}"
    await cursors_ready(stack.bot.container.db)

    first = await fail_once(stack)

    (alert,) = alerts_in(stack.slack, CHANNEL, first)
    cc = f"cc <!subteam^{ONCALL}> <@{DANA}>"
    assert cc in alert.text  # the notification text, which is what pings people
    section_texts = [b["text"]["text"] for b in alert.blocks if b["type"] == "section"]
    assert cc in section_texts[:2]
    (elsewhere,) = alerts_in(stack.slack, OTHER_CHANNEL, first)
    assert "cc " not in rendered(elsewhere.__dict__) and DANA not in elsewhere.text

    await stack.command("alerts mention off", user=ADMIN)
    await told(stack, CHANNEL, "turned off mentions")
    assert await stored_mentions(stack) is None
    await recover(stack)
    second = await fail_once(stack)
    (quiet,) = alerts_in(stack.slack, CHANNEL, second)
    assert ONCALL not in rendered(quiet.__dict__) and DANA not in quiet.text


async def test_a_mention_that_is_not_a_person_or_group_gets_the_usage_line(
    stack: Stack,
) -> None:
    await connect(stack)
    for typed in ("alerts mention @dana", "alerts mention <!channel>", "alerts mention"):
        answer = await stack.reply_to(typed, user=ADMIN)
        assert "/skyvia alerts mention" in rendered(answer), typed
    assert await stored_mentions(stack) is None


async def test_only_admins_choose_who_is_mentioned(stack: Stack) -> None:
    await connect(stack)
    answer = await stack.reply_to(TYPED, user=MEMBER)
    assert "admin" in rendered(answer)
    assert await stored_mentions(stack) is None
