"""Runs that take unusually long, end to end: the real bot over HTTP, the simulator, fake Slack.

A run still going past its backup's limit gets one "⏳ … has been running" note per channel:
top-level like an alert when nobody watches it, in the card's thread when the channel does; its
end is told in the same thread; each once, however many scans see it. And the Skyvia budget:
the active run is asked for at most once per interval per backup, and only while one is
believed going.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update

from bot.devtools.slack_standin import PostedMessage
from bot.devtools.waiting import wait_until
from bot.simulator.records import SimSnapshot
from storage.models import Watch
from tests.constants import ADMIN, BACKUP, CHANNEL, SEED_BACKUPS
from tests.e2e.backup_kit import assert_valid_payloads, carded_watch_of, connect
from tests.e2e.bot_fixtures import Stack
from tests.e2e.worker_kit import cursors_ready, kind_of, long_run

ACTIVE = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/active"
LIST = "GET /workspaces/{workspaceId}/backups/{backupId}/snapshots"
INTERVAL = 0.3
"""The e2e bot's alert interval (`tests.e2e.bot_runner.bot_env`)."""


def _top_level(stack: Stack, kind: str) -> list[PostedMessage]:
    return [m for m in stack.slack.messages(CHANNEL) if not m.is_reply and kind_of(m) == kind]


def _in_thread(stack: Stack, parent: str, kind: str) -> list[PostedMessage]:
    return [m for m in stack.slack.thread(CHANNEL, parent) if kind_of(m) == kind]


async def _overdue_auto(stack: Stack, *, long_run_first: bool = False) -> SimSnapshot | None:
    """Connected, with overdue notes on `auto`; with `long_run_first`, a run that has been going
    for two hours already when the scanner first looks (see `long_run`).

    A long run must not begin after a check: a check that found no run going is not repeated
    before the shortest limit (15 minutes with `auto`), since nothing started after it could be
    overdue sooner, and `long_run` makes a run that started two hours ago, after the fact."""
    await connect(stack)
    run = long_run(stack) if long_run_first else None
    await cursors_ready(stack.bot.container.db)
    await stack.command(f"alerts overdue {BACKUP} auto", user=ADMIN)
    await wait_until(
        lambda: [m for m in stack.slack.messages(CHANNEL) if "overdue notes to *auto*" in m.text],
        what="the overdue limit notice",
    )
    return run


async def test_an_unwatched_long_run_is_one_alert_then_its_end_in_its_thread(stack: Stack) -> None:
    run = await _overdue_auto(stack, long_run_first=True)
    assert run is not None
    [note] = await wait_until(lambda: _top_level(stack, "overdue"), what="the overdue note")
    assert "Nightly CRM (456) has been running 2h" in note.text
    assert "it usually takes" in note.text  # learned from the seed's successful runs
    await stack.bot.after_ticks(3)
    assert len(_top_level(stack, "overdue")) == 1
    health = await stack.reply_to("health")
    assert f"snapshot {run.id} running since" in str(health)  # `health` shows it too

    stack.sim.state.finish_snapshot(run.id)
    [end] = await wait_until(
        lambda: _in_thread(stack, note.ts, "overdue_end"), what="the end in the note's thread"
    )
    assert "Nightly CRM (456) finished after 2h" in end.text and str(run.id) in end.text
    await stack.bot.after_ticks(3)
    assert len(_top_level(stack, "overdue")) == 1
    assert len(_in_thread(stack, note.ts, "overdue_end")) == 1
    assert_valid_payloads(stack.slack)


async def test_a_watched_long_run_is_told_in_its_cards_thread(stack: Stack) -> None:
    await _overdue_auto(stack)
    stack.sim.state.set_speed(1)
    await stack.command(f"snapshot {BACKUP}", user=ADMIN)
    await wait_until(lambda: stack.sim.state.active_snapshot(BACKUP), what="the run")
    run = stack.sim.state.active_snapshot(BACKUP)
    assert run is not None
    watch = await wait_until(lambda: carded_watch_of(stack, run.id), what="the run's card")
    card = watch.message_ts
    back = timedelta(hours=2, minutes=10)
    stack.sim.state.hold_running(run.id, back)
    async with stack.bot.container.db.session() as session:  # the watch began with the run
        await session.execute(
            update(Watch).where(Watch.id == watch.id).values(started_at=watch.started_at - back)
        )
    [note] = await wait_until(
        lambda: _in_thread(stack, card, "overdue"), what="the note in the card's thread"
    )
    assert "Nightly CRM (456) has been running 2h" in note.text
    assert not _top_level(stack, "overdue")  # not also as an alert

    stack.sim.state.finish_snapshot(run.id)
    await wait_until(
        lambda: _in_thread(stack, card, "overdue_end"), what="the end in the card's thread"
    )
    await stack.bot.after_ticks(3)
    assert len(_in_thread(stack, card, "overdue")) == 1
    assert len(_in_thread(stack, card, "overdue_end")) == 1
    assert not _top_level(stack, "overdue")


async def test_overdue_checks_stay_within_the_skyvia_budget(stack: Stack) -> None:
    run = await _overdue_auto(stack, long_run_first=True)
    assert run is not None
    await wait_until(lambda: _top_level(stack, "overdue"), what="the overdue note")
    stack.sim.state.reset_call_counts()
    started = time.monotonic()
    await stack.bot.after_ticks(10)
    rounds = (time.monotonic() - started) / INTERVAL + 1
    calls = stack.sim.state.call_counts()
    # Every check on, a run overdue: list calls per backup per interval stay within 1.2 ...
    assert calls.get(LIST, 0) / (rounds * len(SEED_BACKUPS)) <= 1.2
    # ... and the active run is asked for once per interval, of the one backup running (the
    # others were asked once, when their schedules said a run was due, and wait for the limit).
    assert 1 <= calls.get(ACTIVE, 0) <= rounds + 1

    stack.sim.state.finish_snapshot(run.id)
    await wait_until(lambda: stack.sim.state.call_counts().get(ACTIVE, 0) > calls.get(ACTIVE, 0))
    await stack.bot.after_ticks(2)
    stack.sim.state.reset_call_counts()
    await stack.bot.after_ticks(10)  # nothing believed going: nothing asked beyond the scans
    assert stack.sim.state.call_counts().get(ACTIVE, 0) == 0
