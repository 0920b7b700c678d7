"""A failure episode through the real announcer and the fake Slack: one alert, replies in its
thread once it is out, a restart when its alert will never come, and the recovery only for a
success strictly after the last failure."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.services.alerting.episodes import EpisodeTracker, Tracked
from bot.services.announcements import Outcome
from bot.skyvia.models import Snapshot, SnapshotState
from storage.records import BindingRecord
from storage.repositories import EpisodeRepository
from tests.constants import OTHER_CHANNEL
from tests.services.kit import CHANNEL, Kit


def _run(snapshot_id: int, end: datetime, state: SnapshotState = SnapshotState.FAILED) -> Snapshot:
    start = end - timedelta(minutes=5)
    return Snapshot(
        snapshot_id=snapshot_id, queue_time=start, start_time=start, end_time=end, state=state
    )


def _cursor(scanned_to: datetime) -> Any:
    return SimpleNamespace(
        workspace_id=123, backup_id=456, backup_name="Nightly CRM", cursor=scanned_to
    )


async def _tracked(kit: Kit, *bindings: BindingRecord) -> Tracked:
    """What a scan starts from: the bindings' open episodes of the backup."""
    async with kit.db.session() as session:
        episodes = await EpisodeRepository(session).open_for([b.id for b in bindings])
    return Tracked({b: e for (b, backup), e in episodes.items() if backup == 456})


def _alerts(kit: Kit) -> list[str]:
    return [m.text for m in kit.slack.messages(CHANNEL) if not m.is_reply]


def _replies(kit: Kit) -> list[str]:
    return [m.text for m in kit.slack.messages(CHANNEL) if m.is_reply]


async def test_one_alert_replies_once_it_is_out_and_a_recovery_strictly_after_the_last_failure(
    kit: Kit,
) -> None:
    binding = await kit.bind()
    episodes = EpisodeTracker(announcer=kit.announcer, batcher=kit.batcher, clock=kit.clock)
    now = kit.clock.now
    first, second = _run(1, now - timedelta(minutes=30)), _run(2, now - timedelta(minutes=20))
    cursor = _cursor(now)  # past both: an alert still in the outbox is late, not lost

    tracked = await _tracked(kit, binding)
    assert await episodes.failed(cursor, first, [binding], tracked) == [Outcome.QUEUED]
    assert EpisodeTracker.needs_runs(tracked)
    # The alert is still in the outbox: the next failure's reply waits for its thread.
    tracked = await _tracked(kit, binding)
    assert await episodes.failed(cursor, second, [binding], tracked) == [Outcome.BUSY]
    await kit.flush()
    tracked = await _tracked(kit, binding)
    outcomes = await episodes.failed(cursor, second, [binding], tracked)
    assert all(o.settled for o in outcomes)
    await kit.flush()
    assert _alerts(kit) == [":x: Nightly CRM (456) is failing — 2 failed snapshots in a row"]
    assert len(_replies(kit)) == 1 and "Snapshot 2 " in _replies(kit)[0], _replies(kit)

    # Without the runs nothing recovers; a success ending with the last failure is no recovery.
    tracked = await _tracked(kit, binding)
    await episodes.recoveries(cursor, [binding], tracked, None)
    tied = _run(3, second.end_time, SnapshotState.SUCCEEDED)  # type: ignore[arg-type]
    await episodes.recoveries(cursor, [binding], tracked, [tied, second, first])
    assert not tracked.open[binding.id].recovering
    await kit.flush()
    assert len(_replies(kit)) == 1

    later = _run(4, now - timedelta(minutes=10), SnapshotState.SUCCEEDED)
    latest = _run(5, now - timedelta(minutes=5), SnapshotState.SUCCEEDED)
    await episodes.recoveries(cursor, [binding], tracked, [latest, later, tied, second, first])
    recovered = tracked.open[binding.id]
    assert (recovered.recovered_snapshot_id, recovered.recovered_at) == (4, later.end_time)
    assert not EpisodeTracker.needs_runs(tracked)
    await kit.flush()
    assert len(_replies(kit)) == 2 and "ecovered" in _replies(kit)[1], _replies(kit)
    assert (await _tracked(kit, binding)).open == {}


async def test_a_watched_failure_opens_no_alert_so_the_next_failure_is_the_alert(
    kit: Kit,
) -> None:
    """A watched run's failure is told in its card's thread: the episode it opens has no alert,
    and the next failure becomes it. An unwatched one the scan has not passed is only late."""
    binding = await kit.bind()
    episodes = EpisodeTracker(announcer=kit.announcer, batcher=kit.batcher, clock=kit.clock)
    now = kit.clock.now
    watched, unwatched = _run(1, now - timedelta(minutes=30)), _run(2, now - timedelta(minutes=20))
    at_first = _cursor(watched.end_time)  # type: ignore[arg-type]
    await kit.add_watch(1, message_ts=None)

    tracked = await _tracked(kit, binding)
    assert await episodes.failed(at_first, watched, [], tracked, watching=[binding]) == []
    tracked = await _tracked(kit, binding)
    assert await episodes.failed(at_first, unwatched, [binding], tracked) == [Outcome.QUEUED]
    assert tracked.open[binding.id].first_snapshot_id == 2
    assert tracked.open[binding.id].failures == 2
    await kit.flush()
    assert len(_alerts(kit)) == 1 and _replies(kit) == []


async def test_an_alert_not_yet_claimed_is_late_until_the_scan_passes_its_failure(
    kit: Kit,
) -> None:
    binding = await kit.bind()
    episodes = EpisodeTracker(announcer=kit.announcer, batcher=kit.batcher, clock=kit.clock)
    now = kit.clock.now
    first, second = _run(1, now - timedelta(minutes=30)), _run(2, now - timedelta(minutes=20))
    # Counted while only watching (its alert row never written), but not watched: late.
    tracked = await _tracked(kit, binding)
    await episodes.failed(_cursor(first.end_time), first, [], tracked, watching=[binding])  # type: ignore[arg-type]
    tracked = await _tracked(kit, binding)
    busy = await episodes.failed(_cursor(first.end_time), second, [binding], tracked)  # type: ignore[arg-type]
    assert busy == [Outcome.BUSY]
    past = _cursor(first.end_time + timedelta(seconds=1))  # type: ignore[operator]
    tracked = await _tracked(kit, binding)
    assert await episodes.failed(past, second, [binding], tracked) == [Outcome.QUEUED]
    await kit.flush()
    assert len(_alerts(kit)) == 1


async def test_a_recovery_waits_for_its_alert_and_ends_only_episodes_it_is_after(kit: Kit) -> None:
    """A success ending with the last failure one channel counted recovers only the channel
    whose last failure was earlier; that recovery, recorded, is told once its alert is out."""
    here, there = await kit.bind(), await kit.bind(channel=OTHER_CHANNEL)
    episodes = EpisodeTracker(announcer=kit.announcer, batcher=kit.batcher, clock=kit.clock)
    now = kit.clock.now
    first, second = _run(1, now - timedelta(minutes=30)), _run(2, now - timedelta(minutes=20))
    cursor = _cursor(now)
    await episodes.failed(cursor, first, [here], await _tracked(kit, here))
    await episodes.failed(cursor, second, [there], await _tracked(kit, there))
    success = _run(3, second.end_time, SnapshotState.SUCCEEDED)  # type: ignore[arg-type]

    tracked = await _tracked(kit, here, there)
    await episodes.recoveries(cursor, [here, there], tracked, [success, second, first])
    assert tracked.open[here.id].recovering and not tracked.open[there.id].recovering
    assert set((await _tracked(kit, here, there)).open) == {here.id, there.id}  # none closed yet

    await kit.flush()
    # Not among the channels listening now (its alerts turned off): neither told nor closed.
    await episodes.recoveries(cursor, [there], await _tracked(kit, here, there), None)
    assert set((await _tracked(kit, here, there)).open) == {here.id, there.id}
    await episodes.recoveries(cursor, [here, there], await _tracked(kit, here, there), None)
    await kit.flush()
    assert set((await _tracked(kit, here, there)).open) == {there.id}
    told = [m.text for m in kit.slack.messages(CHANNEL) if m.is_reply]
    assert len(told) == 1 and "ecovered" in told[0], told
    assert [m for m in kit.slack.messages(OTHER_CHANNEL) if m.is_reply] == []
