"""Watching long runs: a note per 30 minutes, and giving up at the limit.

See docs/reference/messages.md#long-runs.

The service polls the simulator's run that never ends, with a clock the test moves, and tells
the fake Slack through the real announcer and notifier.
"""

from __future__ import annotations

from datetime import timedelta

from bot.services.token_policy import TokenPolicy
from bot.services.watching import WatchingConfig, WatchingService
from bot.simulator import RunningSimulator
from bot.skyvia.client import SkyviaClient
from storage.models import Watch
from storage.repositories import WatchRepository
from tests.constants import CHANNEL, TEAM
from tests.services.kit import Kit

GIVE_UP_HOURS = 2


def _watching(kit: Kit, skyvia: SkyviaClient, token_policy: TokenPolicy) -> WatchingService:
    return WatchingService(
        db=kit.db,
        skyvia=skyvia,
        token_policy=token_policy,
        announcer=kit.announcer,
        batcher=kit.batcher,
        pauses=kit.pauses,
        config=WatchingConfig.for_interval(60, give_up=GIVE_UP_HOURS * 3600),
        owner="worker:test:1:me",
        metrics=kit.metrics,
        clock=kit.clock,
    )


async def test_notes_every_half_hour_then_gives_up(
    kit: Kit, simulator: RunningSimulator, skyvia: SkyviaClient, token_policy: TokenPolicy
) -> None:
    simulator.state.set_speed(0.001)  # the run stays New for the whole test
    run = simulator.state.start_snapshot(456)
    await kit.bind()
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    started = kit.clock.now
    watch = await kit.add_watch(run.id, card["ts"])
    watching = _watching(kit, skyvia, token_policy)

    def notes() -> list[str]:
        return [m.text for m in kit.slack.thread(CHANNEL, card["ts"])]

    async def poll_at(minutes: float) -> Watch:
        kit.clock.now = started + timedelta(minutes=minutes)
        await watching.poll(await watching.lease_due())
        await kit.flush()  # what the poll owed reaches Slack
        async with kit.db.session() as session:
            found = await WatchRepository(session).get(watch.id)
        assert found is not None
        return found

    await poll_at(1)
    assert notes() == []
    assert (await poll_at(31)).last_note_at is not None
    assert len(notes()) == 1 and "Still running (30 min)" in notes()[0]
    await poll_at(45)
    assert len(notes()) == 1  # at most one note per 30 minutes
    await poll_at(100)  # after a gap, only the latest period's note
    assert len(notes()) == 2 and "1h 30m" in notes()[1]
    assert kit.metrics.watches_pending._value.get() == 1

    finished = await poll_at(GIVE_UP_HOURS * 60 + 1)
    assert not finished.is_pending and finished.outcome == "gave_up"
    assert len(notes()) == 3 and "Stopped watching" in notes()[2]
    await poll_at(GIVE_UP_HOURS * 60 + 30)
    assert len(notes()) == 3
    # One Skyvia call per due poll, nothing more.
    calls = simulator.state.call_counts()
    assert calls == {"GET /workspaces/{workspaceId}/backups/{backupId}/snapshots/{snapshotId}": 5}


async def test_a_card_that_never_posts_still_gets_its_outcome_once_without_it(
    kit: Kit, simulator: RunningSimulator, skyvia: SkyviaClient, token_policy: TokenPolicy
) -> None:
    """The request could not post the card and Slack refuses the watcher's for good: the run's
    outcome is posted in the channel on its own, saying why, exactly once."""
    simulator.state.set_speed(0.001)
    run = simulator.state.start_snapshot(456)
    simulator.state.finish_snapshot(run.id)
    await kit.bind()
    started = kit.clock.now
    watch = await kit.add_watch(run.id, None)
    watching = _watching(kit, skyvia, token_policy)
    # A refusal that never heals: the notifier gives the card up at once.
    kit.slack.fail_next("chat.postMessage", "invalid_blocks", status=200)

    async def poll_at(minutes: float) -> Watch:
        kit.clock.now = started + timedelta(minutes=minutes)
        await watching.poll(await watching.lease_due())
        await kit.flush()  # what the poll owed reaches Slack
        async with kit.db.session() as session:
            found = await WatchRepository(session).get(watch.id)
        assert found is not None
        return found

    owing = await poll_at(1)  # the card is owed; the sender's try is refused for good
    assert owing.is_pending and owing.message_ts is None
    finished = await poll_at(2)
    assert not finished.is_pending and finished.outcome == "Succeeded"
    assert finished.message_ts is None
    posted = [m for m in kit.slack.messages(CHANNEL) if str(run.id) in m.text]
    assert len(posted) == 1 and not posted[0].is_reply
    assert "card could not be posted" in str(posted[0].blocks)
    await poll_at(60)
    assert len([m for m in kit.slack.messages(CHANNEL) if str(run.id) in m.text]) == 1


async def test_a_card_the_watcher_posts_becomes_the_thread_of_the_outcome(
    kit: Kit, simulator: RunningSimulator, skyvia: SkyviaClient, token_policy: TokenPolicy
) -> None:
    simulator.state.set_speed(0.001)
    run = simulator.state.start_snapshot(456)
    await kit.bind()
    started = kit.clock.now
    watch = await kit.add_watch(run.id, None)
    watching = _watching(kit, skyvia, token_policy)
    for minutes in (1, 2):  # the card is owed, sent, then recorded by the next poll
        kit.clock.now = started + timedelta(minutes=minutes)
        await watching.poll(await watching.lease_due())
        await kit.flush()
    async with kit.db.session() as session:
        found = await WatchRepository(session).get(watch.id)
    assert found is not None and found.is_pending and found.message_ts is not None
    card = kit.slack.message(CHANNEL, found.message_ts)
    assert f"snapshot {run.id}" in str(card.blocks) and not card.is_reply

    simulator.state.finish_snapshot(run.id)
    kit.clock.now = started + timedelta(minutes=3)
    await watching.poll(await watching.lease_due())
    await kit.flush()
    replies = kit.slack.thread(CHANNEL, found.message_ts)
    assert len(replies) == 1 and "succeeded" in replies[0].text
    tops = [m for m in kit.slack.messages(CHANNEL) if not m.is_reply]
    assert [m.ts for m in tops] == [found.message_ts]  # one card, nothing else top-level
