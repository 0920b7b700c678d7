"""The notifier's ledger claims go through the write batcher: one INSERT per flush, one winner."""

from __future__ import annotations

import asyncio

from bot.slack.deliveries import DeliveryKey
from bot.slack.notifier import Notifier
from storage.batching import WriteBatcher
from storage.db import Database
from storage.models import DeliveryStatus
from storage.repositories import DeliveryLedger


async def test_concurrent_claims_of_one_key_in_one_flush_have_one_winner(db: Database) -> None:
    """Two deliveries of the same key reach the ledger in one INSERT: exactly one may post."""
    batcher = WriteBatcher(db)
    notifier = Notifier(slack=None, batcher=batcher, owner="me", stale_after=8.0)  # type: ignore[arg-type]
    key = DeliveryKey("T1", "C1", 7001, "alert")
    other = DeliveryKey("T1", "C2", 7001, "alert")
    claims = await asyncio.gather(
        batcher.run_bulk(notifier._claims, key),
        batcher.run_bulk(notifier._claims, key),
        batcher.run_bulk(notifier._claims, other),
    )
    await batcher.close()
    assert sorted(claim.state for claim in claims[:2]) == ["busy", "claimed"]
    assert claims[2].state == "claimed"
    async with db.session() as session:
        rows = await DeliveryLedger(session).get_many([key.ledger_key, other.ledger_key])
    assert {row.status for row in rows.values()} == {DeliveryStatus.CLAIMED}
    assert len(rows) == 2
