"""The outbox's rows: owed once, taken by priority and age, one per channel, edits coalesced."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.clock import utcnow
from storage.db import Database
from storage.models import Delivery, DeliveryStatus
from storage.repositories import DeliveryLedger
from storage.repositories._sql import db_now
from storage.repositories.deliveries import LedgerKey, SentMark
from storage.repositories.outbox import Outbox, OutboxEntry

ME, OTHER = "worker:test:1:me", "worker:test:2:other"


def entry(
    channel: str,
    snapshot: int,
    kind: str = "alert",
    *,
    priority: int = 0,
    target: str | None = None,
) -> OutboxEntry:
    return OutboxEntry(("T1", channel, snapshot, kind), priority, f'{{"m":{snapshot}}}', target)


async def owe(db: Database, *entries: OutboxEntry) -> dict[LedgerKey, str]:
    async with db.session() as session:
        states = await Outbox(session).enqueue_many(list(entries), owner=ME)
    return {key: state.status for key, state in states.items()}


async def next_rows(db: Database, *, per_lane: int | None = 1, limit: int = 100) -> list[LedgerKey]:
    async with db.session() as session:
        rows = await Outbox(session).next_rows(limit, per_lane=per_lane)
    return [row.key for row in rows]


async def status(db: Database, key: LedgerKey) -> str:
    async with db.session() as session:
        return str(
            await session.scalar(
                select(Delivery.status).where(
                    Delivery.team_id == key[0],
                    Delivery.channel_id == key[1],
                    Delivery.snapshot_id == key[2],
                    Delivery.kind == key[3],
                )
            )
        )


async def claim_all(db: Database, owner: str = ME) -> set[int]:
    async with db.session() as session:
        rows = await Outbox(session).next_rows(100)
        return await Outbox(session).claim([r.id for r in rows], owner=owner)


async def test_owing_a_message_twice_writes_one_row_and_says_how_it_stands(db: Database) -> None:
    alert = entry("C1", 1)
    assert await owe(db, alert) == {alert.key: DeliveryStatus.PENDING}
    assert await owe(db, alert) == {alert.key: DeliveryStatus.PENDING}
    await claim_all(db)
    async with db.session() as session:
        await DeliveryLedger(session).mark_sent_many([SentMark(alert.key, "1.5", utcnow())])
        states = await Outbox(session).enqueue_many([alert], owner=ME)
    assert states[alert.key].status == DeliveryStatus.SENT
    assert states[alert.key].message_ts == "1.5"
    assert await next_rows(db) == []


async def test_rows_go_by_priority_then_age_and_one_per_channel(db: Database) -> None:
    note = entry("C1", 1, "note:30", priority=1)
    edit = entry("C2", 2, "card:Running", priority=2, target="C2/1.1")
    first_alert, second_alert = entry("C3", 3), entry("C3", 4)
    reply = entry("C1", 5, "thread_reply")
    await owe(db, note, edit, first_alert, second_alert)
    await owe(db, reply)
    # C1's reply (priority 0) goes before its older note; C3's second alert waits for its first.
    assert await next_rows(db) == [first_alert.key, reply.key, edit.key]
    everything = await next_rows(db, per_lane=None)
    assert everything == [first_alert.key, second_alert.key, reply.key, note.key, edit.key]
    assert await next_rows(db, limit=2) == [first_alert.key, reply.key]


async def test_a_read_can_take_each_lanes_next_rows_every_lanes_first_rows_first(
    db: Database,
) -> None:
    """The sender reads a lane's next rows with its first, so a channel's next message goes
    when its pace allows, not a read later; a read's limit takes every lane's first row before
    any lane's second (one busy channel does not crowd the others out)."""
    c1 = [entry("C1", n) for n in (1, 2, 3)]
    c2 = [entry("C2", n) for n in (4, 5)]
    note = entry("C2", 6, "note:30", priority=1)
    await owe(db, *c1, *c2, note)
    assert await next_rows(db, per_lane=2) == [c1[0].key, c2[0].key, c1[1].key, c2[1].key]
    assert await next_rows(db, per_lane=3) == [
        c1[0].key,
        c2[0].key,
        c1[1].key,
        c2[1].key,
        c1[2].key,
        note.key,
    ]
    assert await next_rows(db, per_lane=3, limit=2) == [c1[0].key, c2[0].key]


async def test_a_lanes_next_rows_never_crowd_out_another_lanes_first(db: Database) -> None:
    """Edits (the least urgent) still get their first rows into a full read while posts are
    queued deeper: a wave of episode replies, each with its alert's header edit, had its edits
    wait until the replies drained (the episodes section took a third longer)."""
    replies = [entry(c, n, "thread_reply") for c in ("C1", "C2") for n in (1, 2, 3)]
    edits = [entry(c, 9, "episode_header:2", priority=2, target=f"{c}/1.1") for c in ("C1", "C2")]
    await owe(db, *replies, *edits)
    first = [replies[0].key, replies[3].key, edits[0].key, edits[1].key]
    assert await next_rows(db, per_lane=3, limit=4) == first
    assert (await next_rows(db, per_lane=3, limit=6))[4:] == [replies[1].key, replies[4].key]


async def test_a_newer_edit_of_the_same_message_supersedes_the_older(db: Database) -> None:
    running = entry("C1", 1, "card:Running", priority=2, target="C1/1.1")
    done = entry("C1", 1, "card:Succeeded", priority=2, target="C1/1.1")
    other = entry("C2", 1, "card:Running", priority=2, target="C2/2.2")
    await owe(db, running)
    await owe(db, done, other)
    assert await next_rows(db) == [done.key, other.key]
    async with db.session() as session:
        rows = {r.key: r for r in await Outbox(session).next_rows(10)}
        assert await Outbox(session).claim([rows[done.key].id], owner=ME)
    newer = entry("C1", 1, "card:Failed", priority=2, target="C1/1.1")
    await owe(db, newer)  # owed after the claim's read: it is news, not superseded
    async with db.session() as session:
        await Outbox(session).supersede_older({"C1/1.1": rows[done.key].id})
    assert await status(db, running.key) == DeliveryStatus.SENT
    assert await status(db, newer.key) == DeliveryStatus.PENDING
    assert await status(db, other.key) == DeliveryStatus.PENDING


async def test_one_claimer_wins_each_row(db: Database) -> None:
    await owe(db, entry("C1", 1), entry("C2", 2))
    mine = await claim_all(db, ME)
    theirs = await claim_all(db, OTHER)
    assert len(mine) == 2 and theirs == set()
    async with db.session() as session:
        owners = set(await session.scalars(select(Delivery.claimed_by)))
    assert owners == {ME}


async def test_a_refused_row_waits_its_backoff_and_is_given_up_at_the_limit(db: Database) -> None:
    alert = entry("C1", 1)
    await owe(db, alert)
    await claim_all(db)
    async with db.session() as session:
        assert (
            await Outbox(session).requeue(
                alert.key, owner=OTHER, delay=0, error="x", count=True, max_attempts=3
            )
            is None
        )  # not their claim
        first = await Outbox(session).requeue(
            alert.key, owner=ME, delay=60, error="internal_error", count=True, max_attempts=2
        )
    assert first == (DeliveryStatus.PENDING, 1)
    assert await next_rows(db) == []  # not before its backoff
    async with db.session() as session:
        await Outbox(session).delay(alert.key, delay=-1)
    assert await next_rows(db) == [alert.key]
    await claim_all(db)
    async with db.session() as session:
        second = await Outbox(session).requeue(
            alert.key, owner=ME, delay=0, error="internal_error", count=True, max_attempts=2
        )
    assert second == (DeliveryStatus.GAVE_UP, 2)
    assert await next_rows(db) == []


async def test_a_rate_limit_is_not_counted_as_an_attempt(db: Database) -> None:
    alert = entry("C1", 1)
    await owe(db, alert)
    await claim_all(db)
    async with db.session() as session:
        held = await Outbox(session).requeue(
            alert.key, owner=ME, delay=30, error="ratelimited", count=False, max_attempts=1
        )
    assert held == (DeliveryStatus.PENDING, 0)
    assert await next_rows(db) == []


async def test_a_paused_channel_drops_its_queue_only(db: Database) -> None:
    paused, elsewhere = entry("C1", 1), entry("C2", 2)
    await owe(db, paused, entry("C1", 3, "thread_reply"), elsewhere)
    async with db.session() as session:
        assert await Outbox(session).give_up_channel("T1", "C1", "is_archived") == 2
    assert await next_rows(db) == [elsewhere.key]
    assert await status(db, paused.key) == DeliveryStatus.GAVE_UP


async def test_stale_claims_are_found_once_old_enough(db: Database) -> None:
    alert = entry("C1", 1)
    await owe(db, alert)
    await claim_all(db)
    async with db.session() as session:
        assert await Outbox(session).stale_claims(8.0, 10) == []
        await session.execute(
            update(Delivery).values(claimed_at=db_now(session, plus_seconds=-9.0))
        )
    async with db.session() as session:
        assert [r.key for r in await Outbox(session).stale_claims(8.0, 10)] == [alert.key]


async def test_depth_counts_queued_rows_per_priority(db: Database) -> None:
    await owe(db, entry("C1", 1), entry("C1", 2), entry("C2", 3, "note:30", priority=1))
    await claim_all(db)  # claimed ones are no longer queued
    await owe(db, entry("C2", 4, "card:Running", priority=2, target="C2/1.1"))
    async with db.session() as session:
        depth = await Outbox(session).depth()
        mine = await Outbox(session).depth("T1", "C2")
    assert [(d.priority, d.count) for d in depth] == [(2, 1)]
    assert [(d.priority, d.count) for d in mine] == [(2, 1)]


async def test_retention_never_prunes_a_queued_row(db: Database) -> None:
    owed = entry("C1", 1, "thread_reply")
    await owe(db, owed)
    async with db.session() as session:
        await session.execute(
            update(Delivery).values(claimed_at=db_now(session, plus_seconds=-86400.0))
        )
        later = utcnow() + timedelta(days=1)
        assert await DeliveryLedger(session).prune(later, alerts_claimed_before=later) == 0
    assert await status(db, owed.key) == DeliveryStatus.PENDING


async def row_of(db: Database, key: LedgerKey) -> Delivery:
    async with db.session() as session:
        [row] = (await DeliveryLedger(session).get_many([key])).values()
    return row


async def test_owing_again_requeues_a_refused_row_and_recovers_a_cards_claim_only(
    db: Database,
) -> None:
    """A row refused before the outbox (`failed`) is queued again with the payload; a card the
    request path claimed without a payload gets it and stays claimed (a sender recovers it
    once stale); a sent row and a queued one are left as they are."""
    refused, card, sent, queued = (entry(f"C{n}", n) for n in range(1, 5))
    async with db.session() as session:
        ledger = DeliveryLedger(session)
        await ledger.claim_many([refused.key, card.key, sent.key], owner=ME)
        await ledger.record_failure(refused.key, owner=ME, error="internal_error", max_attempts=5)
        await ledger.mark_sent_many([SentMark(sent.key, "1.5", utcnow())])
    await owe(db, queued)
    states = await owe(db, refused, card, sent, queued)
    assert states == {
        refused.key: DeliveryStatus.PENDING,
        card.key: DeliveryStatus.CLAIMED,
        sent.key: DeliveryStatus.SENT,
        queued.key: DeliveryStatus.PENDING,
    }
    assert (await row_of(db, refused.key)).payload == refused.payload
    assert (await row_of(db, card.key)).payload == card.payload
    assert (await row_of(db, card.key)).status == DeliveryStatus.CLAIMED
    assert (await row_of(db, sent.key)).payload is None  # sent: nothing to redo
    assert await next_rows(db) == [refused.key, queued.key]


async def test_teams_with_work_are_those_with_queued_rows_or_claims_to_recover(
    db: Database,
) -> None:
    def of(team: str, snapshot: int) -> OutboxEntry:
        return OutboxEntry((team, "C1", snapshot, "alert"), 0, "{}")

    await owe(db, of("T1", 1), of("T2", 2), of("T3", 3))
    async with db.session() as session:
        ledger, outbox = DeliveryLedger(session), Outbox(session)
        await ledger.claim_many([("T4", "C1", 4, "alert")], owner=ME)  # no payload: the request's
        [t2] = [r for r in await outbox.next_rows(10) if r.team_id == "T2"]
        [t3] = [r for r in await outbox.next_rows(10) if r.team_id == "T3"]
        await outbox.claim([t2.id, t3.id], owner=ME)  # T2 stays claimed: a sender's to recover
        await ledger.mark_sent_many([SentMark(t3.key, "1.1", utcnow())])
        assert await outbox.teams_with_work() == ["T1", "T2"]


async def test_a_delay_moves_only_its_own_row_and_errors_are_kept_short(db: Database) -> None:
    late, other = entry("C1", 1), entry("C1", 2)
    await owe(db, late, other)
    async with db.session() as session:
        await Outbox(session).delay(late.key, delay=60)
    assert await next_rows(db, per_lane=None) == [other.key]
    await claim_all(db)
    long_error = "x" * 100
    async with db.session() as session:
        await Outbox(session).requeue(
            other.key, owner=ME, delay=0, error=long_error, count=True, max_attempts=5
        )
    assert (await row_of(db, other.key)).last_error == "x" * 64
    await claim_all(db)
    async with db.session() as session:
        await Outbox(session).requeue(
            other.key, owner=ME, delay=0, error=None, count=False, max_attempts=5
        )
        assert await Outbox(session).give_up_channel("T1", "C1", "y" * 100) == 2
    assert (await row_of(db, late.key)).last_error == "y" * 64


async def test_queued_rows_carry_their_payload_and_an_edits_target_only(db: Database) -> None:
    post = entry("C1", 1)
    edit = entry("C1", 2, "card", priority=2, target="C1/1.5")
    await owe(db, post, edit)
    async with db.session() as session:
        rows = {r.key: r for r in await Outbox(session).next_rows(10)}
    assert (rows[post.key].target, rows[post.key].payload) == (None, post.payload)
    assert (rows[edit.key].target, rows[edit.key].payload) == ("C1/1.5", edit.payload)


async def test_a_deleted_alert_is_given_up_by_its_channel_and_ts_only(db: Database) -> None:
    """Slack says a thread is gone: only the sent alert that was that message is given up (its
    episode starts again), not one with the same ts elsewhere, nor an edit of it."""
    gone, same_ts_elsewhere, other_ts = entry("C1", 1), entry("C2", 2), entry("C1", 3)
    edit = entry("C1", 4, "header", target="C1/1.1")
    other_team = OutboxEntry(("T2", "C1", 5, "alert"), 0, "{}")
    await owe(db, gone, same_ts_elsewhere, other_ts, edit, other_team)
    marks = [
        SentMark(gone.key, "1.1", utcnow()),
        SentMark(same_ts_elsewhere.key, "1.1", utcnow()),
        SentMark(other_ts.key, "2.2", utcnow()),
        SentMark(edit.key, "1.1", utcnow()),
        SentMark(other_team.key, "1.1", utcnow()),
    ]
    async with db.session() as session:
        await Outbox(session).claim(
            [r.id for r in await Outbox(session).next_rows(10, per_lane=None)], owner=ME
        )
        await DeliveryLedger(session).mark_sent_many(marks)
    async with db.session() as session:
        assert await Outbox(session).mark_thread_gone("T1", "C1", "1.1") == 1
    assert await status(db, gone.key) == DeliveryStatus.GAVE_UP
    for kept in (same_ts_elsewhere, other_ts, edit, other_team):
        assert await status(db, kept.key) == DeliveryStatus.SENT, kept.key
