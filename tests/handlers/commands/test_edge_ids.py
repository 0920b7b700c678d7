"""Ids at the int32 edge through the whole app: the largest id works everywhere, one more is a
typo refused before any Skyvia call, and a snapshot id Skyvia hands out beyond int32 is stored.

Run with TEST_DATABASE_URL set, this is what catches a 32-bit column on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.devtools.waiting import wait_until
from storage.models import Mute
from tests.constants import ADMIN
from tests.e2e.backup_kit import START, connect, rendered, skyvia_calls, watch_of
from tests.e2e.bot_fixtures import Stack

MAX_ID = 2_147_483_647


async def test_the_largest_ids_work_and_one_more_is_refused(stack: Stack) -> None:
    state = stack.sim.state
    state.add_workspace("Edge", id=MAX_ID)
    state.add_backup(MAX_ID, "Edge backup", id=MAX_ID)
    state._next_snapshot_id = MAX_ID + 1  # Skyvia's counter has outgrown int32
    await connect(stack, workspace_id=MAX_ID)

    too_big = await stack.reply_to(f"snapshot {MAX_ID + 1}")
    assert f"`{MAX_ID + 1}` is out of range" in too_big["text"]
    assert skyvia_calls(stack) == {}

    details = await stack.reply_to(f"backup {MAX_ID}")
    assert f"*Edge backup* ({MAX_ID})" in rendered(details)

    await stack.command(f"snapshot {MAX_ID}")
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    assert skyvia_calls(stack)[START] == 1
    watch = await wait_until(lambda: watch_of(stack, MAX_ID + 1), what="the watch")
    assert (watch.workspace_id, watch.backup_id, watch.snapshot_id) == (MAX_ID, MAX_ID, MAX_ID + 1)

    await stack.command(f"alerts mute {MAX_ID}", user=ADMIN)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    async with stack.bot.container.db.session() as session:
        muted = (await session.scalars(select(Mute.backup_id))).all()
    assert muted == [MAX_ID]
