"""Issue 5: two bot processes on one database share the watches and reply to each exactly once.

200 watches over 20 channels finish at the same moment; both processes poll, claim with
`FOR UPDATE SKIP LOCKED` leases (PostgreSQL) and owe their replies to the one outbox, which
the replica holding the team's send lease drains. Who sent is read back from the ledger's
`claimed_by` (each process has its own lease owner id).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.devtools.waiting import wait_until
from storage.models import Delivery
from storage.repositories import BindingRepository, WatchRepository
from tests.constants import BACKUP, MEMBER, TEAM
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import kind_of

WATCHES = 200
CHANNELS = 20


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database (SQLite is the single-process option)")


async def _watch_many(procs: ProcessStack) -> dict[int, tuple[str, str]]:
    """Bindings for the channels, a run and a posted card per watch, and the watches."""
    now = datetime.now(UTC)
    channels = [f"C0REPL{i:02d}" for i in range(CHANNELS)]
    async with procs.db.session() as session:
        for channel in channels:
            await BindingRepository(session).upsert(
                team_id=TEAM,
                channel_id=channel,
                workspace_id=123,
                workspace_name="Operations",
                token_ciphertext=None,
                created_by=MEMBER,
                now=now,
            )
    client = AsyncWebClient(token=procs.slack.bot_token, base_url=procs.slack.api_url)
    cards: dict[int, tuple[str, str]] = {}
    for i in range(WATCHES):
        run = procs.sim.state.start_snapshot(BACKUP)
        channel = channels[i % CHANNELS]
        card = await client.chat_postMessage(channel=channel, text=f"Snapshot {run.id} is new")
        cards[run.id] = (channel, str(card["ts"]))
    async with procs.db.session() as session:
        watches = WatchRepository(session)
        for snapshot_id, (channel, ts) in cards.items():
            await watches.add(
                team_id=TEAM,
                channel_id=channel,
                message_ts=ts,
                workspace_id=123,
                backup_id=BACKUP,
                backup_name="Nightly CRM",
                snapshot_id=snapshot_id,
                started_by=MEMBER,
                started_at=now,
                next_poll_at=now,
            )
    return cards


async def test_two_replicas_reply_to_200_watches_once_each(procs: ProcessStack) -> None:
    procs.sim.state.set_speed(0.01)  # runs stay New until they are all finished at once
    # Card edits at 100 a second, not Slack's Tier 3: this is about sharing watches, not pace.
    procs.env["SKYVIA_BOT_SLACK_PACE"] = "chat.update=100/1+100"
    await procs.start()
    await procs.start()
    cards = await _watch_many(procs)
    # Both replicas poll the running watches for a moment, then everything ends together.
    await procs.slack.wait_for("chat.update", lambda c: c.ok, count=WATCHES // 2)
    assert procs.sim.state.finish_all_running() == WATCHES

    def replies() -> list[tuple[str, str | None]]:
        return [
            (m.channel, m.thread_ts)
            for m in procs.slack.messages()
            if m.is_reply and kind_of(m) == "thread_reply"
        ]

    await wait_until(lambda: len(replies()) >= WATCHES, timeout=60, what="200 thread replies")
    await procs.after_ticks()
    posted = Counter(replies())
    assert len(posted) == WATCHES and set(posted.values()) == {1}
    assert set(posted) == {(channel, ts) for channel, ts in cards.values()}

    async with procs.db.session() as session:
        owners = Counter(
            (
                await session.scalars(
                    select(Delivery.claimed_by).where(Delivery.kind == "thread_reply")
                )
            ).all()
        )
        pending = await WatchRepository(session).count_pending()
    assert pending == 0
    # Both replicas watch, but a team's messages go out through one sender at a time (the
    # team's send lease keeps the replicas inside Slack's tier together): one owner here.
    assert len(owners) == 1, f"one sender per team should have posted the replies: {owners}"
    assert sum(owners.values()) == WATCHES
