"""Which cursors discovery keeps: a backup goes only when two listings in a row miss it, and an
empty listing deletes nothing (its cursors would come back at "now", losing what failed between).

The real database and simulator; the discovery's clock is moved past the relist period by hand.
"""

from __future__ import annotations

from datetime import timedelta

from bot.services.alerting.backup_discovery import BackupDiscovery
from bot.services.alerting.token_checks import TokenChecks
from bot.services.backoff import WorkspaceBackoff
from bot.services.token_policy import TokenPolicy
from bot.simulator import RunningSimulator
from bot.skyvia.client import SkyviaClient
from storage.repositories import AlertCursorRepository
from tests.constants import BACKUP, SEED_BACKUPS
from tests.services.kit import Kit

PERIOD = timedelta(minutes=10)


def _discovery(kit: Kit, skyvia: SkyviaClient, token_policy: TokenPolicy) -> BackupDiscovery:
    return BackupDiscovery(
        db=kit.db,
        skyvia=skyvia,
        tokens=TokenChecks(announcer=kit.announcer, token_policy=token_policy, pauses=kit.pauses),
        backoff=WorkspaceBackoff(base=1, cap=10),
        relist_period=PERIOD,
    )


async def _cursor_ids(kit: Kit) -> list[int]:
    async with kit.db.session() as session:
        cursors = await AlertCursorRepository(session).list_for_workspace(123)
    return [c.backup_id for c in cursors]


async def _relist(kit: Kit, discovery: BackupDiscovery) -> list[int]:
    kit.clock.advance(seconds=PERIOD.total_seconds())
    await discovery.run(kit.clock.now)
    return await _cursor_ids(kit)


async def test_an_empty_listing_keeps_every_cursor(
    kit: Kit,
    skyvia: SkyviaClient,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    discovery = _discovery(kit, skyvia, token_policy)
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)
    listed = simulator.state.backups_by_workspace[123]
    simulator.state.backups_by_workspace[123] = []  # Skyvia answers an empty list
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)
    simulator.state.backups_by_workspace[123] = listed
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)


async def test_a_backup_goes_once_two_listings_in_a_row_miss_it(
    kit: Kit,
    skyvia: SkyviaClient,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    discovery = _discovery(kit, skyvia, token_policy)
    await _relist(kit, discovery)
    backups = simulator.state.backups_by_workspace[123]
    nightly = next(b for b in backups if b.id == BACKUP)

    backups.remove(nightly)  # missed once, then listed again: kept
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)
    backups.insert(0, nightly)
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)

    backups.remove(nightly)  # missed twice in a row: gone
    assert await _relist(kit, discovery) == list(SEED_BACKUPS)
    assert await _relist(kit, discovery) == list(SEED_BACKUPS[1:])
