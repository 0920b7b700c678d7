"""A channel's own token is checked before it hears a failure listed with another token."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.alerting.own_tokens import OwnTokenChecks
from bot.skyvia.errors import SkyviaAuthError, SkyviaError, SkyviaUnavailable
from storage.records import BindingRecord
from tests.services.kit import binding_record

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class _Skyvia:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.error: SkyviaError | None = None

    async def get_workspace(self, token: str, workspace_id: int) -> object:
        self.calls.append((token, workspace_id))
        if self.error is not None:
            raise self.error
        return object()


class _Tokens:
    def __init__(self) -> None:
        self.rejected: list[str] = []

    async def usable_token(self, binding: BindingRecord, now: datetime) -> str | None:
        return f"token-of-{binding.channel_id}" if binding.token_ciphertext else "default"

    async def report_rejected(self, binding: BindingRecord, now: datetime) -> bool:
        self.rejected.append(binding.channel_id)
        return True


def _binding(id: int, channel: str, ciphertext: str | None) -> BindingRecord:
    return binding_record(id, channel, ciphertext=ciphertext)


def _checks(skyvia: _Skyvia, tokens: _Tokens, clock: list[float]) -> OwnTokenChecks:
    return OwnTokenChecks(
        skyvia=skyvia,  # type: ignore[arg-type]
        tokens=tokens,  # type: ignore[arg-type]
        every=60.0,
        clock=lambda: clock[0],
    )


async def test_an_own_token_is_checked_once_per_interval_and_a_rejection_is_final() -> None:
    skyvia, tokens, clock = _Skyvia(), _Tokens(), [0.0]
    checks = _checks(skyvia, tokens, clock)
    default, own = _binding(1, "C1", None), _binding(2, "C2", "cipher")
    assert await checks.hearing([default, own], "default", NOW) == [default, own]
    assert await checks.hearing([default, own], "default", NOW) == [default, own]
    assert skyvia.calls == [("token-of-C2", 123)]  # once per interval, not per failure
    clock[0] += 61
    skyvia.error = SkyviaAuthError("rejected")
    assert await checks.hearing([default, own], "default", NOW) == [default]
    assert tokens.rejected == ["C2"]
    clock[0] += 600
    assert await checks.hearing([default, own], "default", NOW) == [default]
    assert len(skyvia.calls) == 2  # rejected until reconnected (a new ciphertext)
    reconnected = _binding(2, "C2", "new-cipher")
    skyvia.error = None
    assert await checks.hearing([reconnected], "default", NOW) == [reconnected]


async def test_the_token_that_listed_needs_no_check_and_an_outage_holds_nothing_back() -> None:
    skyvia, tokens, clock = _Skyvia(), _Tokens(), [0.0]
    checks = _checks(skyvia, tokens, clock)
    own = _binding(2, "C2", "cipher")
    assert await checks.hearing([own], "token-of-C2", NOW) == [own]
    assert skyvia.calls == []
    skyvia.error = SkyviaUnavailable("down")
    assert await checks.hearing([own], "default", NOW) == [own]
    assert tokens.rejected == []
