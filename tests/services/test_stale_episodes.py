"""A stale episode through the real announcer and the fake Slack: alerted only once the last good
snapshot is past the limit, once, retried when refused, then "fresh again" in its thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.services.alerting.failure_listing import Listeners
from bot.services.alerting.staleness import StaleTracker
from bot.services.announcements import Channel, FreshAgain, News, Outcome, StaleNoticed
from bot.skyvia.models import Snapshot, SnapshotState
from storage.records import BindingRecord
from storage.repositories import StalenessRepository, StaleSetting
from storage.repositories.outbox import Outbox
from tests.services.kit import CHANNEL, TEAM, Kit

LIMIT = timedelta(hours=15)
"""`auto` for a backup run every 6 hours: 2.5 times the gap."""


@dataclass
class _Counting:
    """The kit's announcer, counting the stale news; refuses the next `refuse` alerts."""

    real: Any
    alerts: list[tuple[int, float | None]] = field(default_factory=list)
    fresh: list[int] = field(default_factory=list)
    refuse: int = 0

    async def owe(self, news: News, to: Channel) -> Outcome:
        if isinstance(news, StaleNoticed):
            self.alerts.append((news.last_good_id, news.age_seconds))
            if self.refuse:
                self.refuse -= 1
                return Outcome.FAILED
        elif isinstance(news, FreshAgain):
            self.fresh.append(news.snapshot_id)
        return await self.real.owe(news, to)


def _cursor(backup_id: int = 456, **values: Any) -> Any:
    base = {
        "workspace_id": 123,
        "backup_id": backup_id,
        "backup_name": "Nightly CRM",
        "scheduled": True,
        "cadence_seconds": None,
        "last_good_at": None,
        "last_good_snapshot_id": None,
    }
    return SimpleNamespace(**(base | values))


def _runs(
    last_good_end: datetime, state: SnapshotState = SnapshotState.SUCCEEDED
) -> list[Snapshot]:
    """Three scheduled runs 6 hours apart, ids 1 to 3, the latest ending at `last_good_end`."""
    return [
        Snapshot.model_validate(
            {
                "snapshotId": i,
                "startTime": last_good_end - timedelta(hours=6 * (3 - i), minutes=5),
                "endTime": last_good_end - timedelta(hours=6 * (3 - i)),
                "state": state,
                "runBySchedule": True,
            }
        )
        for i in (1, 2, 3)
    ]


async def _listeners(kit: Kit, binding: BindingRecord, muted: set[int] | None = None) -> Listeners:
    async with kit.db.session() as session:
        stale = await StalenessRepository(session).for_bindings([binding.id])
    return Listeners([binding], {binding.id: muted or set()}, stale=stale)


def _tracker(kit: Kit, told: _Counting) -> StaleTracker:
    return StaleTracker(
        announcer=told,  # type: ignore[arg-type]
        batcher=kit.batcher,
        owner=lambda: "w",
        clock=kit.clock,
    )


async def test_stale_only_past_the_limit_once_then_fresh_again_in_its_thread(kit: Kit) -> None:
    binding = await kit.bind()
    told = _Counting(kit.announcer)
    tracker = _tracker(kit, told)
    good_end = kit.clock.now - LIMIT
    runs = _runs(good_end)

    async def check(cursor: Any, runs: list[Snapshot]) -> StaleSetting:
        await tracker.check(cursor, await _listeners(kit, binding), runs, kit.clock.now)
        return (await _listeners(kit, binding)).stale_setting(binding.id, 456)

    assert await check(_cursor(), runs) == StaleSetting()  # exactly at the limit: not yet
    assert told.alerts == []
    kit.clock.advance(seconds=1)
    open_ = StaleSetting(stale_snapshot_id=3, stale_announced=True)
    assert await check(_cursor(), runs) == open_
    assert told.alerts == [(3, LIMIT.total_seconds() + 1)]
    assert await check(_cursor(), runs) == open_  # told once: nothing more, no "fresh"
    assert (len(told.alerts), told.fresh) == (1, [])

    # A newer good snapshot while the alert is still in the outbox: the reply waits for it.
    cached = _cursor(last_good_at=good_end, last_good_snapshot_id=3)
    newer = [*runs, *_runs(kit.clock.now)[2:]]
    newer[-1] = newer[-1].model_copy(update={"snapshot_id": 4})
    assert await check(cached, newer) == open_
    assert told.fresh == []
    await kit.flush()
    alert = [m for m in kit.slack.messages(CHANNEL) if "No good snapshot" in m.text]
    assert len(alert) == 1 and "for 15h" in alert[0].text, alert
    assert await check(_cursor(), runs) == open_  # out now, and still no newer good snapshot
    assert told.fresh == []

    assert await check(cached, newer) == StaleSetting()
    await kit.flush()
    replies = [m.text for m in kit.slack.thread(CHANNEL, alert[0].ts) if m.is_reply]
    assert told.fresh == [4]
    assert len(replies) == 1 and "snapshot 4 succeeded" in replies[0], replies


async def test_a_refused_stale_alert_is_tried_again_next_scan(kit: Kit) -> None:
    binding = await kit.bind()
    told = _Counting(kit.announcer, refuse=1)
    tracker = _tracker(kit, told)
    runs = _runs(kit.clock.now - LIMIT - timedelta(hours=1))
    for _ in range(3):
        await tracker.check(_cursor(), await _listeners(kit, binding), runs, kit.clock.now)
    assert [good for good, _ in told.alerts] == [3, 3]
    setting = (await _listeners(kit, binding)).stale_setting(binding.id, 456)
    assert (setting.stale_snapshot_id, setting.stale_announced) == (3, True)


async def test_muted_or_unscheduled_backups_are_not_called_stale(kit: Kit) -> None:
    binding = await kit.bind()
    told = _Counting(kit.announcer)
    tracker = _tracker(kit, told)
    runs = _runs(kit.clock.now - timedelta(days=3))
    muted = await _listeners(kit, binding, muted={456})
    await tracker.check(_cursor(), muted, runs, kit.clock.now)
    await tracker.check(
        _cursor(scheduled=False), await _listeners(kit, binding), runs, kit.clock.now
    )
    assert told.alerts == []
    assert (await _listeners(kit, binding)).stale_setting(binding.id, 456) == StaleSetting()


async def test_without_a_success_in_the_runs_the_cached_last_good_and_cadence_count(
    kit: Kit,
) -> None:
    """No success among the runs read: the cursor's cached last good snapshot (0 when its id is
    not known) and learned gap decide, and key the episode."""
    binding = await kit.bind()
    told = _Counting(kit.announcer)
    tracker = _tracker(kit, told)
    old = kit.clock.now - LIMIT - timedelta(minutes=1)
    cadence = 6 * 3600.0
    known = _cursor(last_good_at=old, last_good_snapshot_id=3, cadence_seconds=cadence)
    unknown = _cursor(457, last_good_at=old, cadence_seconds=cadence)
    listeners = await _listeners(kit, binding)
    await tracker.check(known, listeners, [], kit.clock.now)
    await tracker.check(unknown, listeners, _runs(old, SnapshotState.FAILED), kit.clock.now)
    age = (LIMIT + timedelta(minutes=1)).total_seconds()
    assert told.alerts == [(3, age), (0, age)]
    after = await _listeners(kit, binding)
    assert after.stale_setting(binding.id, 456).stale_snapshot_id == 3
    assert after.stale_setting(binding.id, 457).stale_snapshot_id == 0


async def test_fresh_again_closes_quietly_when_its_alert_was_deleted_in_slack(kit: Kit) -> None:
    """Slack said the alert's thread is gone (its ledger row given up, its `ts` kept): a newer
    good snapshot ends the episode without a reply into the deleted thread."""
    binding = await kit.bind()
    told = _Counting(kit.announcer)
    tracker = _tracker(kit, told)
    good_end = kit.clock.now - LIMIT - timedelta(hours=1)
    await tracker.check(_cursor(), await _listeners(kit, binding), _runs(good_end), kit.clock.now)
    await kit.flush()
    (alert,) = [m for m in kit.slack.messages(CHANNEL) if "No good snapshot" in m.text]
    async with kit.db.session() as session:
        assert await Outbox(session).mark_thread_gone(TEAM, CHANNEL, alert.ts) == 1
    newer = [*_runs(good_end), *_runs(kit.clock.now)[2:]]
    newer[-1] = newer[-1].model_copy(update={"snapshot_id": 4})
    await tracker.check(_cursor(), await _listeners(kit, binding), newer, kit.clock.now)
    assert told.fresh == []
    assert (await _listeners(kit, binding)).stale_setting(binding.id, 456) == StaleSetting()
