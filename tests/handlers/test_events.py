"""Issue 5: Slack events that take a channel away pause its binding, once per event."""

from __future__ import annotations

from bot.devtools.waiting import wait_until
from tests.constants import CHANNEL, MEMBER, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import binding_row, paused_binding


async def test_archiving_the_channel_pauses_its_binding(stack: Stack) -> None:
    await connect(stack)
    await connect(stack, channel=OTHER_CHANNEL)
    response = await stack.send.event(
        {"type": "channel_archived", "channel": CHANNEL, "user": MEMBER}
    )
    assert response.status_code == 200
    binding = await wait_until(lambda: paused_binding(stack.bot.container.db, CHANNEL))
    assert binding.paused_reason == "the channel was archived"
    other = await binding_row(stack.bot.container.db, OTHER_CHANNEL)
    assert other is not None and not other.is_paused
    status = await stack.reply_to("status")
    assert "archived" in rendered(status)


async def test_the_bot_leaving_pauses_but_a_member_leaving_does_not(stack: Stack) -> None:
    await connect(stack)
    await stack.send.event(
        {"type": "member_left_channel", "user": MEMBER, "channel": CHANNEL, "team": TEAM}
    )
    await stack.bot.listeners.idle()
    binding = await binding_row(stack.bot.container.db, CHANNEL)
    assert binding is not None and not binding.is_paused

    await stack.send.event(
        {
            "type": "member_left_channel",
            "user": stack.slack.bot_user_id,
            "channel": CHANNEL,
            "team": TEAM,
        }
    )
    binding = await wait_until(lambda: paused_binding(stack.bot.container.db, CHANNEL))
    assert "removed from the channel" in (binding.paused_reason or "")


async def test_uninstall_pauses_every_binding_of_the_team(stack: Stack) -> None:
    await connect(stack)
    await connect(stack, channel=OTHER_CHANNEL)
    await stack.send.event({"type": "app_uninstalled"})
    for channel in (CHANNEL, OTHER_CHANNEL):
        binding = await wait_until(
            lambda c=channel: paused_binding(stack.bot.container.db, c), what=channel
        )
        assert "uninstalled" in (binding.paused_reason or "")


async def test_a_retried_event_acts_once(stack: Stack) -> None:
    await connect(stack)
    await stack.send.event({"type": "channel_deleted", "channel": CHANNEL}, event_id="Ev0DELETED")
    first = await wait_until(lambda: paused_binding(stack.bot.container.db, CHANNEL))
    # An admin reconnects; then Slack's late retry of the old event arrives: nothing happens.
    await connect(stack)
    resumed = await binding_row(stack.bot.container.db, CHANNEL)
    assert resumed is not None and not resumed.is_paused
    response = await stack.send.event(
        {"type": "channel_deleted", "channel": CHANNEL}, event_id="Ev0DELETED", retry_num=1
    )
    assert response.status_code == 200
    await stack.bot.listeners.idle()
    again = await binding_row(stack.bot.container.db, CHANNEL)
    assert again is not None and not again.is_paused
    assert first.paused_reason == "the channel was deleted"


async def test_revoking_only_user_tokens_leaves_the_bot_working(stack: Stack) -> None:
    """tokens_revoked lists user (oauth) and bot tokens; only a revoked bot token stops us."""
    await connect(stack)
    await stack.send.event({"type": "tokens_revoked", "tokens": {"oauth": [MEMBER], "bot": []}})
    await stack.bot.listeners.idle()
    binding = await binding_row(stack.bot.container.db, CHANNEL)
    assert binding is not None and not binding.is_paused

    await stack.send.event({"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}})
    revoked = await wait_until(lambda: paused_binding(stack.bot.container.db, CHANNEL))
    assert "token was revoked" in (revoked.paused_reason or "")
    status = await stack.reply_to("status")
    assert "reinstalling the app resumes" in rendered(status)
