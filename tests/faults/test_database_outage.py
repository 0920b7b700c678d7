"""The database goes away for 20 s mid-traffic: afterwards every reply and alert is there once.

The bot runs as a child process (`python -m bot run --http`) on a PostgreSQL server of the
test's own (`bot/devtools/private_postgres.py`), with the Slack stand-in and the Skyvia
simulator in the test process. Snapshots started from Slack commands are being watched in four
channels and failure alerts are going out when the server hangs (SIGSTOP: connections and
statements wait until the bot's own timeouts end them) for 10 s, then is stopped as in a crash
(`pg_ctl stop -m immediate`, cutting COMMITs off mid-way) for 10 s more; meanwhile more runs
end and fail. After the restart every thread reply and every alert must be delivered exactly
once: none lost to the writes that failed, none doubled by a retry of a post whose record was
lost. The bot serves on throughout, and its readiness check says 503 in bounded time.

The outage needs no shared database, but takes about 45 s, so it runs in the PostgreSQL pass
of the suite (`TEST_DATABASE_URL` set, as in `.ci/run`) rather than in both.

See docs/reference/configuration.md#when-the-database-is-unavailable.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, text

from bot.config import CONNECT_TIMEOUT as SETTINGS_CONNECT_TIMEOUT
from bot.config import STATEMENT_TIMEOUT as SETTINGS_STATEMENT_TIMEOUT
from bot.config import load_settings
from bot.container import Container
from bot.devtools.private_postgres import PrivatePostgres
from bot.devtools.slack_requests import SlackRequestSender
from bot.devtools.slack_standin import FakeSlack, PostedMessage
from bot.devtools.waiting import poll, wait_until
from bot.simulator import RunningSimulator
from storage.db import CONNECT_TIMEOUT, PING_TIMEOUT, STATEMENT_TIMEOUT, upgrade_async
from tests.constants import ADMIN, MEMBER
from tests.e2e.process_kit import ProcessStack, process_stack
from tests.e2e.worker_kit import alerts_in, carded_watch, cursors_ready, kind_of, watch_row

FROZEN = 10.0  # first the server hangs (SIGSTOP): only the bot's timeouts end its waits
DOWN = 10.0  # then it is stopped as in a crash, and started again
BOT_CONNECT_TIMEOUT = 2.0
BOT_STATEMENT_TIMEOUT = 3.0  # the client gives up 5 s later: 8 s, inside the freeze
CHANNELS = ("C0OPS", "C0OTHER", "C0THIRD", "C0FOURTH")
WATCHED_BACKUPS = (456, 457, 458, 459)  # one snapshot started from each channel
SCHEDULED_BACKUPS = (460, 461)  # scheduled runs that fail: alerts only
RECOVERY = 75.0  # the workers' retry pause grows to 30 s during the outage; claims go stale


@pytest.fixture
async def procs(
    private_postgres: PrivatePostgres,
    fake_slack: FakeSlack,
    simulator: RunningSimulator,
    slack_sender_factory: Callable[[str, str], SlackRequestSender],
    tmp_path: Path,
) -> AsyncIterator[ProcessStack]:
    url = private_postgres.url()
    await upgrade_async(url)
    async with process_stack(
        fake_slack=fake_slack,
        simulator=simulator,
        database_url=url,
        sender_factory=slack_sender_factory,
        logs=tmp_path,
        # Short limits, so that statements cut off by the freeze time out within it.
        DATABASE_CONNECT_TIMEOUT=str(BOT_CONNECT_TIMEOUT),
        DATABASE_STATEMENT_TIMEOUT=str(BOT_STATEMENT_TIMEOUT),
    ) as stack:
        yield stack


async def _connect(procs: ProcessStack, send: SlackRequestSender, channel: str) -> None:
    before = len(procs.slack.calls_to("chat.postMessage"))
    await send.slash_command("connect 123", user_id=ADMIN, channel_id=channel)
    await procs.slack.wait_for("chat.postMessage", lambda c: c.ok, count=before + 1)


async def _start_watched_runs(
    procs: ProcessStack, send: SlackRequestSender
) -> dict[str, tuple[int, str]]:
    """`/skyvia snapshot` in each channel; returns channel -> (run id, card ts) once watched."""
    for channel, backup in zip(CHANNELS, WATCHED_BACKUPS, strict=True):
        response = await send.slash_command(
            f"snapshot {backup}", user_id=MEMBER, channel_id=channel
        )
        assert response.status_code == 200, response.text
    watched: dict[str, tuple[int, str]] = {}
    for channel, backup in zip(CHANNELS, WATCHED_BACKUPS, strict=True):
        run_id = await wait_until(partial(_started_run, procs, backup), what=f"run of {backup}")
        assert run_id is not None  # (wait_until returns a truthy answer)
        watch = await wait_until(
            partial(carded_watch, procs.db, run_id, channel), what=f"the watch in {channel}"
        )
        assert watch is not None
        watched[channel] = (run_id, watch.message_ts)
    return watched


def _started_run(procs: ProcessStack, backup: int) -> int | None:
    """The id of the run the bot started for `backup` (the simulator numbers them from 7001)."""
    return next((s.id for s in procs.sim.state.snapshots_of(backup) if s.id >= 7001), None)


def _delivered(slack: FakeSlack) -> Counter[tuple[str, str, int]]:
    """How many times each delivery (channel, kind, snapshot) was posted, by its metadata."""
    counts: Counter[tuple[str, str, int]] = Counter()
    for message in slack.messages():
        kind = kind_of(message)
        if kind is not None:
            payload = (message.metadata or {})["event_payload"]
            counts[(message.channel, kind, int(payload["snapshot_id"]))] += 1
    return counts


def _replies(slack: FakeSlack, channel: str, card_ts: str) -> list[PostedMessage]:
    return [m for m in slack.thread(channel, card_ts) if kind_of(m) == "thread_reply"]


async def _probe_while_down(bot_url: str) -> None:
    """The process serves on; readiness says the database is gone, and says it quickly."""
    async with httpx.AsyncClient(base_url=bot_url, timeout=15) as http:
        assert (await http.get("/healthz")).status_code == 200
        started = time.monotonic()
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert time.monotonic() - started < PING_TIMEOUT + 1.5


@pytest.mark.e2e
@pytest.mark.timeout(240)
async def test_a_database_outage_loses_and_doubles_nothing(
    procs: ProcessStack, private_postgres: PrivatePostgres
) -> None:
    bot, send = await procs.start()
    for channel in CHANNELS:
        await _connect(procs, send, channel)
    await cursors_ready(procs.db)
    procs.sim.state.set_speed(1)  # runs stay in progress until the test ends them
    watched = await _start_watched_runs(procs, send)
    runs = [watched[channel][0] for channel in CHANNELS]

    # Traffic in flight: two watched runs end, a scheduled run fails; posts are slow.
    procs.slack.set_latency(0.2)
    scheduled = [procs.sim.state.run_scheduled_now(b, fail=True).id for b in SCHEDULED_BACKUPS]
    procs.sim.state.finish_snapshot(runs[0], "Succeeded")
    procs.sim.state.finish_snapshot(runs[1], "Failed")
    procs.sim.state.finish_snapshot(scheduled[0], "Failed")
    posted_before = len(procs.slack.messages())
    await wait_until(lambda: len(procs.slack.messages()) > posted_before, what="a first post")

    private_postgres.freeze()
    t0 = time.monotonic()
    # While it is out, the rest ends: one more watched failure, one success, one scheduled.
    procs.sim.state.finish_snapshot(runs[2], "Failed")
    procs.sim.state.finish_snapshot(runs[3], "Succeeded")
    procs.sim.state.finish_snapshot(scheduled[1], "Failed")
    await _probe_while_down(bot.url)
    await asyncio.sleep(max(0.0, FROZEN - (time.monotonic() - t0)))
    private_postgres.thaw()
    private_postgres.stop("immediate")
    await _probe_while_down(bot.url)
    await asyncio.sleep(max(0.0, FROZEN + DOWN - (time.monotonic() - t0)))
    private_postgres.start()
    procs.slack.set_latency(0)

    failed = {runs[1], runs[2], *scheduled}
    expected = Counter(
        {(channel, "thread_reply", run): 1 for channel, (run, _) in watched.items()}
        | {(channel, "card", run): 1 for channel, (run, _) in watched.items()}
        | {
            (channel, "alert", run): 1
            for channel in CHANNELS
            for run in failed
            if watched[channel][0] != run  # a watched run is reported in its thread only
        }
    )

    def missing() -> list[tuple[str, str, int]]:
        return sorted(set(expected) - set(_delivered(procs.slack)))

    await poll(lambda: not missing(), timeout=RECOVERY)
    assert not missing(), f"not delivered {RECOVERY:g}s after the outage: {missing()}"
    await procs.after_ticks(3)  # more rounds of both workers: nothing more is posted

    assert _delivered(procs.slack) == expected
    for channel, (run, card_ts) in watched.items():
        assert len(_replies(procs.slack, channel, card_ts)) == 1, (channel, run)
        assert [a.ts for a in alerts_in(procs.slack, channel, run)] == []
    for channel in CHANNELS:
        assert {s: len(alerts_in(procs.slack, channel, s)) for s in scheduled} == {
            s: 1 for s in scheduled
        }
    assert bot.returncode is None, bot.tail()
    for channel, (run, _) in watched.items():
        watch = await watch_row(procs.db, run, channel)
        assert watch is not None and not watch.is_pending, (channel, run)


async def test_the_timeouts_are_settings_that_reach_the_database() -> None:
    """`DATABASE_CONNECT_TIMEOUT` and `DATABASE_STATEMENT_TIMEOUT` reach the bot's engine."""
    assert (SETTINGS_CONNECT_TIMEOUT, SETTINGS_STATEMENT_TIMEOUT) == (
        CONNECT_TIMEOUT,
        STATEMENT_TIMEOUT,
    )
    settings = load_settings(
        _env_file=None,
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/none",
        DATABASE_CONNECT_TIMEOUT="2.5",
        DATABASE_STATEMENT_TIMEOUT="7",
        SKYVIA_BOT_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    container = await Container.create(settings)
    try:
        seen = _connect_params_of(container)
        with pytest.raises(ConnectionRefusedError):
            async with container.db.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await container.aclose()
    assert seen["timeout"] == 2.5
    assert seen["server_settings"]["statement_timeout"] == "7000"


def _connect_params_of(container: Container) -> dict[str, Any]:
    """What the container's engine hands asyncpg for a new connection (none is made)."""
    seen: dict[str, Any] = {}

    @event.listens_for(container.db.engine.sync_engine, "do_connect")
    def _record(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        seen.update(params)
        raise ConnectionRefusedError("recorded, not connected")

    return seen
