"""ClickClaims: a double click acts once; a failed action's claim is given back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.services.clicks import DOUBLE_CLICK_WINDOW, AlreadyClicked, ClickClaims, ClickedButton
from storage.db import Database

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RUN = ClickedButton("T1", "C1", "1700000000.000100", "run_snapshot", '{"backup_id":456}')


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_the_same_click_twice_is_refused_and_another_button_is_not(db: Database) -> None:
    claims = ClickClaims(db, clock=Clock())
    await claims.claim(RUN, "U1")
    with pytest.raises(AlreadyClicked):
        await claims.claim(RUN, "U2")  # whoever clicks: same message, button and value
    other = ClickedButton("T1", "C1", "1700000000.000100", "run_snapshot", '{"backup_id":457}')
    await claims.claim(other, "U1")


async def test_a_released_claim_can_be_claimed_again_at_once(db: Database) -> None:
    claims = ClickClaims(db, clock=Clock())
    claim = await claims.claim(RUN, "U1")
    await claims.release(claim)
    await claims.claim(RUN, "U1")


async def test_the_same_button_works_again_after_the_window(db: Database) -> None:
    clock = Clock()
    claims = ClickClaims(db, clock=clock)
    first = await claims.claim(RUN, "U1")
    clock.now += DOUBLE_CLICK_WINDOW + timedelta(seconds=1)
    second = await claims.claim(RUN, "U1")
    # Releasing the old claim late leaves the newer one in place.
    await claims.release(first)
    with pytest.raises(AlreadyClicked):
        await claims.claim(RUN, "U2")
    assert second.claimed_at == clock.now
