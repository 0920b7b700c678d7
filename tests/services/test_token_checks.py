"""A rejected token: the channel is told first, and only then is its binding paused.

A stored token that does not decrypt pauses its binding alone, reported once.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from bot.services.alerting.token_checks import TokenChecks
from bot.services.announcements import Channel, Outcome, RejectedToken
from bot.services.channel_pauses import OWN_TOKEN_REJECTED_REASON, UNDECRYPTABLE_REASON
from bot.services.token_policy import TokenPolicy
from storage.models import Binding
from storage.records import BindingRecord
from storage.repositories import BindingRepository
from tests.services.kit import CHANNEL, TEAM, Kit


class _Announcer:
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.told: list[tuple[Channel, int, datetime]] = []
        self.own: list[bool] = []

    async def owe(self, news: RejectedToken, to: Channel) -> Outcome:
        self.told.append((to, news.workspace_id, news.bound_at))
        self.own.append(news.own_token)
        return self.outcome


async def _paused_reason(kit: Kit) -> str | None:
    async with kit.db.session() as session:
        binding = await BindingRepository(session).get(TEAM, CHANNEL)
    assert binding is not None
    return binding.paused_reason


@pytest.mark.parametrize("outcome", [Outcome.SENT, Outcome.ALREADY_SENT, Outcome.PAUSED])
async def test_once_the_channel_was_told_the_binding_is_paused(
    kit: Kit, token_policy: TokenPolicy, outcome: Outcome
) -> None:
    binding = await kit.bind()
    announcer = _Announcer(outcome)
    checks = TokenChecks(
        announcer=announcer,  # type: ignore[arg-type]
        pauses=kit.pauses,
        token_policy=token_policy,
    )
    assert await checks.report_rejected(binding, kit.clock.now)
    assert announcer.told == [(Channel(TEAM, CHANNEL), 123, binding.created_at)]
    reason = await _paused_reason(kit)
    assert reason is not None and "rejected the access token of workspace 123" in reason


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN, Outcome.BUSY])
async def test_a_notice_not_delivered_leaves_the_binding_active_for_a_retry(
    kit: Kit, token_policy: TokenPolicy, outcome: Outcome
) -> None:
    binding = await kit.bind()
    checks = TokenChecks(
        announcer=_Announcer(outcome),  # type: ignore[arg-type]
        pauses=kit.pauses,
        token_policy=token_policy,
    )
    assert not await checks.report_rejected(binding, kit.clock.now)
    assert await _paused_reason(kit) is None


async def _store_ciphertext(kit: Kit, ciphertext: str) -> BindingRecord:
    async with kit.db.session() as session:
        await session.execute(
            update(Binding)
            .where(Binding.team_id == TEAM, Binding.channel_id == CHANNEL)
            .values(token_ciphertext=ciphertext)
        )
        found = await BindingRepository(session).get(TEAM, CHANNEL)
    assert found is not None
    return found


async def test_a_rejected_own_token_is_named_as_the_channels_own(
    kit: Kit, token_policy: TokenPolicy
) -> None:
    await kit.bind()
    binding = await _store_ciphertext(kit, "some-ciphertext")
    announcer = _Announcer(Outcome.SENT)
    checks = TokenChecks(
        announcer=announcer,  # type: ignore[arg-type]
        pauses=kit.pauses,
        token_policy=token_policy,
    )
    assert await checks.report_rejected(binding, kit.clock.now)
    assert announcer.own == [True]
    assert await _paused_reason(kit) == OWN_TOKEN_REJECTED_REASON


async def test_an_undecryptable_token_pauses_its_binding_and_is_logged_once(
    kit: Kit, token_policy: TokenPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.bind()
    foreign = Fernet(Fernet.generate_key()).encrypt(b"secret-token").decode()
    binding = await _store_ciphertext(kit, foreign)
    announcer = _Announcer(Outcome.SENT)
    checks = TokenChecks(
        announcer=announcer,  # type: ignore[arg-type]
        pauses=kit.pauses,
        token_policy=token_policy,
    )
    assert await checks.usable_token(binding, kit.clock.now) is None
    assert await checks.usable_token(binding, kit.clock.now) is None
    assert await _paused_reason(kit) == UNDECRYPTABLE_REASON
    assert announcer.told == []  # an operator's matter: no channel notice
    warnings = [r for r in caplog.records if "could not be decrypted" in r.getMessage()]
    assert len(warnings) == 1
    assert f"{TEAM}/{CHANNEL}" in warnings[0].getMessage()
    assert foreign not in caplog.text and "secret-token" not in caplog.text


async def test_a_default_token_binding_gets_the_default_token(
    kit: Kit, token_policy: TokenPolicy
) -> None:
    binding = await kit.bind()
    announcer = _Announcer(Outcome.SENT)
    checks = TokenChecks(
        announcer=announcer,  # type: ignore[arg-type]
        pauses=kit.pauses,
        token_policy=token_policy,
    )
    assert await checks.usable_token(binding, kit.clock.now) == token_policy.token_of(binding)
