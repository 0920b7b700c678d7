"""Personal subscriptions stay exactly once when the bot is killed while its DMs go out, or runs
as two replicas (docs/reference/commands.md#personal-subscriptions).

The DMs are owed before the channel's alert and keyed by (person, snapshot, kind), so a SIGKILL
with some of them sent, or a second replica scanning the same backup, sends none twice and loses
none; someone who follows the backup from two channels gets one DM.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.waiting import wait_until
from storage.models import Subscription
from tests.constants import BACKUP, CHANNEL, OTHER_CHANNEL
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import alerts_in, cursors_ready, kind_of

PEOPLE = [f"U0SUB{i:02d}" for i in range(12)]
CHANNELS = [CHANNEL, OTHER_CHANNEL]


def _dms(procs: ProcessStack, kind: str) -> Counter[tuple[str, int]]:
    return Counter(
        (m.channel, m.metadata["event_payload"]["snapshot_id"])
        for m in procs.slack.messages()
        if kind_of(m) == kind and m.metadata is not None
    )


async def _subscribe(procs: ProcessStack, send: SlackRequestSender) -> None:
    for i, person in enumerate(PEOPLE):
        procs.slack.add_user(person, name=person.lower())
        channel = CHANNELS[i % 2]
        await send.slash_command(f"subscribe {BACKUP}", user_id=person, channel_id=channel)
    # The first person follows everything from the other channel too: still one DM each.
    await send.slash_command("subscribe all", user_id=PEOPLE[0], channel_id=CHANNELS[1])

    async def recorded() -> bool:
        async with procs.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(Subscription))
        return count == len(PEOPLE) + 1

    await wait_until(recorded, what="every subscription")


async def _failure_and_recovery(procs: ProcessStack, kill: Callable[[], None] | None) -> None:
    procs.slack.set_latency(0.2)  # slow posts: the kill lands with some DMs out
    failed = procs.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: _dms(procs, "dm_failed"), timeout=30, what="a first DM")
    if kill is not None:
        kill()
        procs.slack.set_latency(0)
        await procs.start()
    procs.slack.set_latency(0)
    wanted = {(person, failed.id) for person in PEOPLE}
    await wait_until(lambda: set(_dms(procs, "dm_failed")) == wanted, timeout=60, what="DMs")
    for channel in CHANNELS:
        await wait_until(lambda c=channel: alerts_in(procs.slack, c, failed.id), what=channel)
    good = procs.sim.state.run_scheduled_now(BACKUP)
    recovered = {(person, good.id) for person in PEOPLE}
    await wait_until(
        lambda: set(_dms(procs, "dm_recovered")) == recovered, timeout=60, what="recoveries"
    )
    await procs.after_ticks()
    assert set(_dms(procs, "dm_failed").values()) == {1}
    assert set(_dms(procs, "dm_recovered").values()) == {1}
    assert set(_dms(procs, "dm_failed")) == wanted


async def test_killed_while_dms_go_out_each_person_hears_each_once(procs: ProcessStack) -> None:
    bot, send = await procs.start()
    for channel in CHANNELS:
        await procs.connect(send, channel)
    await cursors_ready(procs.db)
    await _subscribe(procs, send)
    await _failure_and_recovery(procs, bot.kill)


async def test_two_replicas_send_each_dm_once(procs: ProcessStack, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database (SQLite is the single-process option)")
    _, send = await procs.start()
    await procs.start()
    for channel in CHANNELS:
        await procs.connect(send, channel)
    await cursors_ready(procs.db)
    await _subscribe(procs, send)
    await _failure_and_recovery(procs, None)
