"""Episode rows: counting a failure is idempotent, a success ends the streak, a later failure
opens a new episode, and a re-read old failure reopens nothing."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.repositories import BindingRepository, Episode, EpisodeRepository
from tests.storage.conftest import NOW

BACKUP = 456


async def _binding(db: Database, channel: str) -> int:
    async with db.session() as session:
        binding = await BindingRepository(session).upsert(
            team_id="T1",
            channel_id=channel,
            workspace_id=7,
            workspace_name=None,
            token_ciphertext=None,
            created_by="U1",
            now=NOW,
        )
        return binding.id


async def _fail(db: Database, ids: list[int], snapshot: int, minutes: int) -> dict[int, Episode]:
    async with db.session() as session:
        return dict(
            await EpisodeRepository(session).record_failure(
                ids, BACKUP, snapshot, NOW + timedelta(minutes=minutes)
            )
        )


async def test_failures_count_once_each_and_a_recovery_closes_the_episode(db: Database) -> None:
    one, two = await _binding(db, "C1"), await _binding(db, "C2")
    first = await _fail(db, [one], 10, 0)
    assert first[one].first_snapshot_id == 10 and first[one].failures == 1
    await _fail(db, [one, two], 11, 5)  # channel two hears of it first now: its own episode
    again = await _fail(db, [one, two], 11, 5)  # a re-read scan
    mine, theirs = again[one], again[two]
    assert (mine.failures, mine.first_snapshot_id, mine.last_snapshot_id) == (2, 10, 11)
    assert (theirs.failures, theirs.first_snapshot_id) == (1, 11)

    async with db.session() as session:
        repo = EpisodeRepository(session)
        await repo.mark_recovered(one, BACKUP, 12, NOW + timedelta(minutes=9))
        await repo.mark_recovered(one, BACKUP, 13, NOW + timedelta(minutes=20))  # first one wins
    async with db.session() as session:
        recovering = (await EpisodeRepository(session).open_for([one]))[(one, BACKUP)]
        assert (recovering.recovered_snapshot_id, recovering.failures) == (12, 2)
        await EpisodeRepository(session).close(one, BACKUP, NOW + timedelta(minutes=10))
    async with db.session() as session:
        assert set(await EpisodeRepository(session).open_for([one, two])) == {(two, BACKUP)}

    assert await _fail(db, [one], 11, 5) == {}  # an old failure read again: nothing to say
    reopened = await _fail(db, [one], 14, 30)
    assert (reopened[one].first_snapshot_id, reopened[one].failures) == (14, 1)


async def test_restart_makes_a_later_failure_the_alert_and_keeps_the_streak(db: Database) -> None:
    one = await _binding(db, "C1")
    await _fail(db, [one], 10, 0)
    await _fail(db, [one], 11, 5)
    async with db.session() as session:
        restarted = await EpisodeRepository(session).restart([one], BACKUP, 11)
    assert (restarted[one].first_snapshot_id, restarted[one].failures) == (11, 2)
    again = await _fail(db, [one], 12, 9)
    assert (again[one].first_snapshot_id, again[one].failures) == (11, 3)


async def test_an_alert_keeps_its_episode_as_it_ended_after_the_next_one_opens(
    db: Database,
) -> None:
    """The App Home's view of an alert: its own episode, open or over, by channel and first
    failure; another team's channel of the same id, or an unknown alert, finds nothing."""
    one, two = await _binding(db, "C1"), await _binding(db, "C2")
    await _fail(db, [one, two], 10, 0)
    await _fail(db, [one], 11, 5)
    async with db.session() as session:
        repo = EpisodeRepository(session)
        await repo.mark_recovered(one, BACKUP, 12, NOW + timedelta(minutes=9))
        await repo.close(one, BACKUP, NOW + timedelta(minutes=10))
    await _fail(db, [one], 14, 30)  # the row is reused by a new episode

    async with db.session() as session:
        found = await EpisodeRepository(session).of_alerts(
            "T1", {("C1", 10), ("C1", 14), ("C2", 10), ("C2", 14), ("C1", 99)}
        )
        assert await EpisodeRepository(session).of_alerts("T2", {("C1", 10)}) == {}
    assert set(found) == {("C1", 10), ("C1", 14), ("C2", 10)}
    over = found[("C1", 10)]
    assert (over.failures, over.last_snapshot_id, over.recovered_snapshot_id) == (2, 11, 12)
    assert over.recovered_at == NOW + timedelta(minutes=9)
    assert (found[("C1", 14)].failures, found[("C1", 14)].recovered_at) == (1, None)
    assert (found[("C2", 10)].failures, found[("C2", 10)].recovered_at) == (1, None)

    async with db.session() as session:
        assert await EpisodeRepository(session).prune_past(NOW + timedelta(minutes=10)) == 0
        assert await EpisodeRepository(session).prune_past(NOW + timedelta(minutes=11)) == 1
    async with db.session() as session:
        assert set(await EpisodeRepository(session).of_alerts("T1", {("C1", 10)})) == set()


async def test_an_episode_reopened_before_its_recovery_was_told_is_kept_too(
    db: Database,
) -> None:
    one = await _binding(db, "C1")
    await _fail(db, [one], 10, 0)
    async with db.session() as session:
        await EpisodeRepository(session).mark_recovered(one, BACKUP, 12, NOW + timedelta(minutes=9))
    await _fail(db, [one], 14, 30)  # the recovery note is still on its way: never closed

    async with db.session() as session:
        found = await EpisodeRepository(session).of_alerts("T1", {("C1", 10), ("C1", 14)})
    assert (found[("C1", 10)].recovered_snapshot_id, found[("C1", 10)].failures) == (12, 1)
    assert found[("C1", 14)].recovered_at is None
