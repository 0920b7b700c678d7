"""`digest daily HH:MM|off` through the real app: set in the setter's time zone, posted once a
day, once after the bot was down at that time, once with two replicas.

The digest's time is a timer row; the tests move its `due_at` into the past, which is what the
clock passing it looks like to the bot, rather than waiting for a real 09:00.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.devtools.slack_standin import FakeSlack, PostedMessage
from bot.devtools.waiting import wait_until
from bot.services.digests import next_digest_at
from storage.db import Database
from storage.models import Timer, TimerKind
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER
from tests.e2e.backup_kit import assert_valid_payloads, connect, rendered
from tests.e2e.bot_fixtures import Stack
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import cursors_ready, failures_told

NY = "America/New_York"


def _posted(slack: FakeSlack, words: str) -> list[PostedMessage]:
    return [m for m in slack.messages(CHANNEL) if words in m.text]


async def _digest_due(db: Database) -> datetime | None:
    async with db.session() as session:
        return await session.scalar(
            select(Timer.due_at).where(Timer.kind == TimerKind.DIGEST, Timer.channel_id == CHANNEL)
        )


async def _make_due(db: Database) -> None:
    """The digest's time passes: its row is due a minute ago."""
    async with db.session() as session:
        await session.execute(
            update(Timer)
            .where(Timer.kind == TimerKind.DIGEST)
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )


async def test_a_digest_is_set_in_the_setters_zone_posted_once_and_stopped(stack: Stack) -> None:
    stack.slack.add_user(ADMIN, name="ada", is_admin=True, tz=NY)
    await connect(stack)
    db = stack.bot.container.db
    await cursors_ready(db)

    refused = rendered(await stack.reply_to("digest daily 10:00", user=MEMBER))
    assert "only admins" in refused.lower() and await _digest_due(db) is None
    shown = rendered(await stack.reply_to("digest"))
    assert "no daily digest" in shown

    await stack.command("digest daily 09:00", user=ADMIN)
    [note] = await wait_until(lambda: _posted(stack.slack, "daily health digest"), what="note")
    assert "09:00 (America/New_York)" in note.text and f"<@{ADMIN}>" in note.text
    due = await _digest_due(db)
    assert due == next_digest_at(datetime.now(UTC) - timedelta(minutes=1), time(9), NY)
    assert due is not None and due.astimezone(ZoneInfo(NY)).time() == time(9)
    again = rendered(await stack.reply_to("digest daily 09:00", user=ADMIN))
    assert "already at 09:00 (America/New_York)" in again
    assert len(_posted(stack.slack, "daily health digest")) == 1  # the repeat told no one
    assert "Daily digest at 09:00 (America/New_York)" in rendered(await stack.reply_to("status"))

    failed = stack.sim.state.run_scheduled_now(BACKUP, fail=True)
    await wait_until(lambda: failures_told(stack.slack, CHANNEL, failed.id), what="the alert")
    await _make_due(db)
    [digest] = await wait_until(lambda: _posted(stack.slack, "Daily digest of"), what="digest")
    text = rendered({"text": digest.text, "blocks": digest.blocks})
    assert re.search(r"healthy; \d+ failing(, the longest)? since <!date\^", text)
    assert "*Nightly CRM* (456)" in text and "Daily at 09:00 (America/New_York)" in text
    await stack.bot.after_ticks(3)
    assert len(_posted(stack.slack, "Daily digest of")) == 1
    next_due = await _digest_due(db)
    assert next_due is not None and next_due > datetime.now(UTC)
    assert next_due.astimezone(ZoneInfo(NY)).time() == time(9)

    await stack.command("digest off", user=ADMIN)
    await wait_until(lambda: _posted(stack.slack, "stopped the daily health digest"), what="off")
    assert await _digest_due(db) is None
    nothing = rendered(await stack.reply_to("digest off", user=ADMIN))
    assert "nothing to stop" in nothing
    assert len(_posted(stack.slack, "stopped the daily health digest")) == 1
    assert_valid_payloads(stack.slack)


async def test_a_digest_due_while_the_bot_was_down_is_posted_once_by_two_replicas(
    procs: ProcessStack,
) -> None:
    bot, send = await procs.start()
    await procs.connect(send)
    await send.slash_command("digest daily 07:30", user_id=ADMIN, channel_id=CHANNEL)
    await wait_until(lambda: _posted(procs.slack, "daily health digest"), what="the note")
    bot.kill()
    await _make_due(procs.db)  # 07:30 passed while no bot ran

    await asyncio.gather(procs.start(), procs.start())
    await wait_until(lambda: _posted(procs.slack, "Daily digest of"), timeout=30, what="digest")
    await procs.after_ticks(3)
    assert len(_posted(procs.slack, "Daily digest of")) == 1
    due = await _digest_due(procs.db)
    assert due is not None and due > datetime.now(UTC)
    assert due.astimezone(ZoneInfo("Europe/London")).time() == time(7, 30)
