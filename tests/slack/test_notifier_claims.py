"""The notifier's outbox writes go through the write batcher: one INSERT per flush, one row."""

from __future__ import annotations

import asyncio

from bot.services.announcements import Outcome
from bot.services.channel_pauses import ChannelPauses
from bot.slack.delivery.keys import DeliveryKey
from bot.slack.delivery.notifier import Notifier
from bot.slack.messages import Message
from storage.batching import WriteBatcher
from storage.db import Database
from storage.models import DeliveryStatus
from storage.repositories import DeliveryLedger


async def test_concurrent_owes_of_one_key_in_one_flush_write_one_row(db: Database) -> None:
    """Two deliveries of the same key reach the outbox in one INSERT: one row, owed once."""
    batcher = WriteBatcher(db)
    notifier = Notifier(
        slack=None,  # type: ignore[arg-type]
        batcher=batcher,
        pauses=ChannelPauses(db),
        owner="me",
        stale_after=8.0,
    )
    key = DeliveryKey("T1", "C1", 7001, "alert")
    other = DeliveryKey("T1", "C2", 7001, "alert")
    message = Message(text="failed")
    results = await asyncio.gather(
        notifier.deliver(key, message),
        notifier.deliver(key, message),
        notifier.deliver(other, message),
    )
    await batcher.close()
    assert [r.outcome for r in results] == [Outcome.QUEUED] * 3
    async with db.session() as session:
        rows = await DeliveryLedger(session).get_many([key.ledger_key, other.ledger_key])
    assert {row.status for row in rows.values()} == {DeliveryStatus.PENDING}
    assert len(rows) == 2
