"""A rejected token: the channel is told first, and only then is its binding paused."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.services.announcements import Channel, Outcome
from bot.services.token_checks import TokenChecks
from storage.repositories import BindingRepository
from tests.services.kit import CHANNEL, TEAM, Kit


class _Announcer:
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.told: list[tuple[Channel, int, datetime]] = []

    async def token_rejected(
        self, channel: Channel, workspace_id: int, bound_at: datetime
    ) -> Outcome:
        self.told.append((channel, workspace_id, bound_at))
        return self.outcome


async def _paused_reason(kit: Kit) -> str | None:
    async with kit.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None
    return binding.paused_reason


@pytest.mark.parametrize("outcome", [Outcome.SENT, Outcome.ALREADY_SENT, Outcome.PAUSED])
async def test_once_the_channel_was_told_the_binding_is_paused(kit: Kit, outcome: Outcome) -> None:
    binding = await kit.bind()
    announcer = _Announcer(outcome)
    checks = TokenChecks(announcer=announcer, batcher=kit.batcher)  # type: ignore[arg-type]
    assert await checks.report_rejected(binding, kit.clock.now)
    assert announcer.told == [(Channel(TEAM, CHANNEL), 123, binding.created_at)]
    reason = await _paused_reason(kit)
    assert reason is not None and "rejected the access token of workspace 123" in reason


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN, Outcome.BUSY])
async def test_a_notice_not_delivered_leaves_the_binding_active_for_a_retry(
    kit: Kit, outcome: Outcome
) -> None:
    binding = await kit.bind()
    checks = TokenChecks(announcer=_Announcer(outcome), batcher=kit.batcher)  # type: ignore[arg-type]
    assert not await checks.report_rejected(binding, kit.clock.now)
    assert await _paused_reason(kit) is None
