"""Retention deletes exactly what is past its age, keeps every ledger key that can still be
claimed, goes in bounded batches, and stops when its turn is taken over."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.config import load_settings
from bot.services.retention import CLOCK_SLACK, RetentionPolicy, RetentionService
from storage.db import Database
from storage.models import WorkerLease
from storage.repositories import AlertCursorRepository, EpisodeRepository
from storage.repositories._sql import db_now
from tests.storage import retention_rows as rows

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
POLICY = RetentionPolicy(
    clicks=DAY,
    deliveries=14 * DAY,
    finished_watches=30 * DAY,
    audit=90 * DAY,
    alert_lookback=DAY,
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def service(db: Database, policy: RetentionPolicy = POLICY, clock: Clock | None = None):  # type: ignore[no-untyped-def]
    return RetentionService(db=db, policy=policy, clock=clock or Clock())


async def prune(retention: RetentionService, owner: str = "me"):  # type: ignore[no-untyped-def]
    assert await retention.take_turn(owner)
    return await retention.prune(owner)


async def test_each_kind_goes_once_past_its_age_and_not_at_it(db: Database) -> None:
    for name, age in (("past", SECOND), ("at", timedelta(0)), ("within", -SECOND)):
        await rows.click(db, name, NOW - DAY - age)
        await rows.step(db, f"Fx-{name}", NOW - DAY - age)
        await rows.audit(db, name, NOW - 90 * DAY - age)
        finished = NOW - 30 * DAY - age
        await rows.watch(db, f"W-{name}", 1, finished - DAY, finished)
        claimed = NOW - 14 * DAY - age
        await rows.delivery(db, f"D-{name}", 2, rows.REPLY, claimed)
        await rows.delivery(db, f"D-{name}", 2, rows.ALERT, claimed)
        await rows.past_episode(db, f"E-{name}", claimed)

    report = await prune(service(db))

    assert report.deleted == {
        "clicks": 1,
        "step executions": 1,
        "deliveries": 2,
        "past episodes": 1,
        "watches": 1,
        "audit": 1,
    }
    assert not report.more
    assert await rows.click_keys(db) == {"at", "within"}
    assert await rows.step_ids(db) == {"Fx-at", "Fx-within"}
    assert await rows.audit_targets(db) == {"at", "within"}
    assert await rows.watch_channels(db) == {"W-at", "W-within"}
    assert {channel for channel, _, _ in await rows.delivery_keys(db)} == {"D-at", "D-within"}
    assert await rows.past_episode_channels(db) == {"E-at", "E-within"}


async def test_a_pending_watch_and_its_ledger_rows_stay_whatever_their_age(db: Database) -> None:
    long_ago = NOW - 365 * DAY
    await rows.watch(db, "C1", 7, long_ago, None)
    await rows.delivery(db, "C1", 7, "note:30", long_ago)

    await prune(service(db))

    assert await rows.watch_channels(db) == {"C1"}
    assert await rows.delivery_keys(db) == {("C1", 7, "note:30")}


async def test_alert_rows_stay_while_the_oldest_cursor_could_read_their_failure_again(
    db: Database,
) -> None:
    # A cursor held back 20 days (its backup's listing kept failing): its next scan reads
    # failures that started after cursor - lookback, and their alerts must not be sent twice.
    cursor = NOW - 20 * DAY
    async with db.session() as session:
        await AlertCursorRepository(session).ensure(7, 456, "Nightly CRM", since=cursor)
    bound = cursor - POLICY.alert_lookback - CLOCK_SLACK
    await rows.delivery(db, "C1", 1, rows.ALERT, bound - SECOND)
    await rows.delivery(db, "C1", 2, rows.ALERT, bound)
    await rows.delivery(db, "C1", 3, rows.ALERT, NOW - 15 * DAY)
    await rows.delivery(db, "C1", 4, rows.REPLY, NOW - 15 * DAY)

    report = await prune(service(db))

    assert report.deleted["deliveries"] == 2
    assert await rows.delivery_keys(db) == {("C1", 2, rows.ALERT), ("C1", 3, rows.ALERT)}


async def test_an_age_of_zero_keeps_that_kind_forever(db: Database) -> None:
    settings = load_settings(_env_file=None, SKYVIA_BOT_AUDIT_RETENTION="0")
    policy = RetentionPolicy.from_settings(settings, alert_lookback=DAY)
    await rows.audit(db, "ancient", NOW - 3650 * DAY)
    await rows.click(db, "old", NOW - 2 * DAY)

    report = await prune(service(db, policy))

    assert "audit" not in report.deleted and report.deleted["clicks"] == 1
    assert await rows.audit_targets(db) == {"ancient"}
    assert policy.clicks == timedelta(seconds=settings.click_retention)
    assert policy.interval == settings.retention_interval


async def test_a_backlog_goes_in_bounded_batches_and_the_rest_in_the_next_run(
    db: Database,
) -> None:
    for number in range(5):
        await rows.click(db, f"old-{number}", NOW - 2 * DAY - number * SECOND)
    retention = service(db, replace(POLICY, batch=2, max_batches=2))

    first = await prune(retention)
    await retention.end_turn("me", again_now=first.more)
    second = await prune(retention)

    assert (first.deleted["clicks"], first.more) == (4, True)
    assert (second.deleted["clicks"], second.more) == (1, False)
    assert await rows.click_keys(db) == set()


async def test_pruning_stops_once_another_replica_took_the_turn_over(db: Database) -> None:
    await rows.click(db, "old", NOW - 2 * DAY)
    clock = Clock()
    mine, theirs = service(db, clock=clock), service(db, clock=clock)
    assert await mine.take_turn("me")
    async with db.session() as session:  # this replica stalled past its lease
        await session.execute(
            update(WorkerLease).values(lease_until=db_now(session, plus_seconds=-1))
        )
    assert await theirs.take_turn("them")

    report = await mine.prune("me")

    assert report.more and report.deleted == {"clicks": 0}
    assert await rows.click_keys(db) == {"old"}


async def test_an_open_episodes_alert_stays_whatever_its_age(db: Database) -> None:
    """A backup failing for longer than the ledger's retention is still one alert and a thread.

    Issue 18 (suspicion, true): the first alert's row was pruned like any other, so the next
    failure found no alert to reply to, took the episode for one whose alert never went out,
    and restarted it as a new top-level alert (and its recovery had no thread to go in). The
    row of an open episode's alert stays; once the episode closed, it goes as usual.
    """
    long_ago = NOW - 40 * DAY
    async with db.session() as session:
        ids = [(await rows.bind(session, channel, long_ago)).id for channel in ("C1", "C2")]
        episodes = EpisodeRepository(session)
        await episodes.record_failure(ids, 456, 7, long_ago)
        await episodes.mark_recovered(ids[1], 456, 8, long_ago + DAY)
        await episodes.close(ids[1], 456, long_ago + DAY)
    await rows.delivery(db, "C1", 7, rows.ALERT, long_ago)
    await rows.delivery(db, "C2", 7, rows.ALERT, long_ago)
    await rows.delivery(db, "C1", 6, rows.ALERT, long_ago)  # an older episode's, closed

    await prune(service(db))

    assert await rows.delivery_keys(db) == {("C1", 7, rows.ALERT)}
