"""Watching under Skyvia faults: a refusal that will not heal ends the watch, an outage does not.

The service polls the simulator with a clock the test moves and tells the fake Slack through the
real announcer and notifier.
"""

from __future__ import annotations

import httpx
import pytest

from bot.services.backoff import WorkspaceBackoff
from bot.services.token_policy import TokenPolicy
from bot.services.watching import WatchingConfig, WatchingService
from bot.simulator import RunningSimulator
from bot.skyvia.client import RetryPolicy, SkyviaClient
from storage.models import Watch, WatchOutcome
from storage.repositories import WatchRepository
from tests.constants import CHANNEL, TEAM
from tests.e2e.backup_kit import SNAPSHOT
from tests.services.kit import Kit


async def _watched(kit: Kit, simulator: RunningSimulator) -> tuple[Watch, str]:
    simulator.state.set_speed(0.001)  # the run stays New for the whole test
    run = simulator.state.start_snapshot(456)
    await kit.bind()
    client = await kit.clients.for_team(TEAM)
    card = await client.chat_postMessage(channel=CHANNEL, text="card")
    watch = await kit.add_watch(run.id, card["ts"])
    return watch, card["ts"]


def _service(
    kit: Kit, skyvia: SkyviaClient, token_policy: TokenPolicy, backoff: WorkspaceBackoff
) -> WatchingService:
    return WatchingService(
        db=kit.db,
        skyvia=skyvia,
        token_policy=token_policy,
        announcer=kit.announcer,
        batcher=kit.batcher,
        pauses=kit.pauses,
        config=WatchingConfig.for_interval(10, give_up=3600),
        owner="worker:test:1:me",
        metrics=kit.metrics,
        backoff=backoff,
        clock=kit.clock,
    )


async def _reload(kit: Kit, watch: Watch) -> Watch:
    async with kit.db.session() as session:
        found = await WatchRepository(session).get(watch.id)
    assert found is not None
    return found


@pytest.mark.parametrize("status", [404, 410, 422])
async def test_a_refusal_that_will_not_heal_ends_the_watch_and_holds_nothing_back(
    kit: Kit,
    simulator: RunningSimulator,
    skyvia: SkyviaClient,
    token_policy: TokenPolicy,
    status: int,
) -> None:
    watch, card_ts = await _watched(kit, simulator)
    backoff = WorkspaceBackoff(base=10, cap=600)
    watching = _service(kit, skyvia, token_policy, backoff)
    simulator.state.inject_errors(status, endpoint=SNAPSHOT)
    await watching.poll(await watching.lease_due())
    await kit.flush()

    finished = await _reload(kit, watch)
    assert finished.outcome == WatchOutcome.VANISHED and not finished.is_pending
    notes = kit.slack.thread(CHANNEL, card_ts)
    assert len(notes) == 1 and "no longer" in notes[0].text
    assert "not found in Skyvia" in kit.slack.message(CHANNEL, card_ts).text
    assert not backoff.held(123)  # the workspace's other watches and scans go on
    assert simulator.state.call_counts()[SNAPSHOT] == 1  # not retried by the client either


async def test_an_outage_holds_the_workspace_and_the_first_answer_releases_it(
    kit: Kit, simulator: RunningSimulator, token_policy: TokenPolicy
) -> None:
    watch, card_ts = await _watched(kit, simulator)
    backoff = WorkspaceBackoff(base=10, cap=600, clock=lambda: kit.clock.now.timestamp())
    async with httpx.AsyncClient() as http:
        skyvia = SkyviaClient(http, simulator.base_url, retry=RetryPolicy(max_attempts=1))
        watching = _service(kit, skyvia, token_policy, backoff)
        await _outage_then_answer(kit, simulator, watching, backoff, watch, card_ts)


async def _outage_then_answer(
    kit: Kit,
    simulator: RunningSimulator,
    watching: WatchingService,
    backoff: WorkspaceBackoff,
    watch: Watch,
    card_ts: str,
) -> None:
    simulator.state.inject_errors(503, endpoint=SNAPSHOT)
    await watching.poll(await watching.lease_due())
    polled = await _reload(kit, watch)
    assert polled.is_pending and polled.poll_errors == 1
    assert backoff.held(123)
    # Retried one interval later, not after a delay that doubles per error.
    assert (polled.next_poll_at - kit.clock.now).total_seconds() == pytest.approx(10, abs=0.5)
    simulator.state.clear_faults()
    kit.clock.advance(seconds=10)
    await watching.poll(await watching.lease_due())
    assert not backoff.held(123)
    assert (await _reload(kit, watch)).poll_errors == 0
    assert kit.slack.thread(CHANNEL, card_ts) == []
