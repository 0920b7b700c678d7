"""A channel bound with its own token hears nothing more once Skyvia rejects that token.

Issue 9, finding 6, through the real bot over HTTP with the Slack stand-in and the simulator.
Another channel of the same workspace, bound with the default token, still lists the failures;
the channel whose own token was revoked gets one notice (through the delivery ledger) and no
alert and no log, until an admin reconnects it.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.devtools.waiting import wait_until
from storage.models import Delivery, DeliveryKind, DeliveryStatus
from tests.constants import ADMIN, BACKUP, CHANNEL, OTHER_CHANNEL, TEAM
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import alerts_in, cursors_ready, failures_told, paused_binding
from tests.faults.kit import messages_with

OWN_TOKEN = "own-token-of-the-other-channel"
NOTICE = "Skyvia rejected this channel's access token"


async def test_a_revoked_own_token_stops_that_channels_alerts_with_one_notice(
    stack: Stack,
) -> None:
    await connect(stack)  # the default token: it lists the workspace's failures
    stack.sim.state.add_token(OWN_TOKEN, [123])
    await stack.bot.container.bindings.connect(
        team_id=TEAM, channel_id=OTHER_CHANNEL, workspace_id=123, token=OWN_TOKEN, user_id=ADMIN
    )
    await cursors_ready(stack.bot.container.db)
    first = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: alerts_in(stack.slack, CHANNEL, first.id), what="the first alert")
    await wait_until(lambda: alerts_in(stack.slack, OTHER_CHANNEL, first.id), what="its own")

    stack.sim.state.remove_token(OWN_TOKEN)  # revoked in Skyvia
    second = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: failures_told(stack.slack, CHANNEL, second.id), what="the alert")
    await wait_until(lambda: messages_with(stack, OTHER_CHANNEL, NOTICE), what="the notice")
    binding = await wait_until(
        lambda: paused_binding(stack.bot.container.db, OTHER_CHANNEL), what="the pause"
    )
    assert binding is not None and NOTICE in (binding.paused_reason or "")
    notice = messages_with(stack, OTHER_CHANNEL, NOTICE)[0]
    assert "/skyvia connect" in rendered(notice.__dict__)

    third = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(
        lambda: failures_told(stack.slack, CHANNEL, third.id), what="the third failure"
    )
    await stack.bot.after_ticks(3)
    assert [a.ts for a in alerts_in(stack.slack, OTHER_CHANNEL)] == [
        a.ts for a in alerts_in(stack.slack, OTHER_CHANNEL, first.id)
    ]
    assert len(alerts_in(stack.slack, OTHER_CHANNEL)) == 1
    for later in (second, third):  # nor in the first alert's thread
        assert failures_told(stack.slack, OTHER_CHANNEL, later.id) == []
    assert len(messages_with(stack, OTHER_CHANNEL, NOTICE)) == 1
    async with stack.bot.container.db.session() as session:
        rows = await session.scalars(
            select(Delivery).where(
                Delivery.channel_id == OTHER_CHANNEL, Delivery.kind == DeliveryKind.REVOKED
            )
        )
        assert [r.status for r in rows] == [DeliveryStatus.SENT]  # the ledger made it once
    status = await stack.reply_to("status", channel=OTHER_CHANNEL)
    assert NOTICE in rendered(status)

    # Reconnected with a token Skyvia accepts: alerts resume there.
    stack.sim.state.add_token(OWN_TOKEN, [123])
    await stack.bot.container.bindings.connect(
        team_id=TEAM, channel_id=OTHER_CHANNEL, workspace_id=123, token=OWN_TOKEN, user_id=ADMIN
    )
    fourth = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: failures_told(stack.slack, OTHER_CHANNEL, fourth.id), what="resumed")
