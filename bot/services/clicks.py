"""Double-click claims: one click on a button that changes something acts once, on any replica.

Slack users double-click, and Slack itself resends an interaction it thinks was slow. Before a
button acts, its click is claimed in the database for `DOUBLE_CLICK_WINDOW`; a second claim of
the same button of the same message within the window is refused (`AlreadyClicked`). A click
whose action failed is released, so a retry is not mistaken for a double click.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.services.errors import DomainError
from storage.db import Database
from storage.repositories import ClickRepository, click_key

DOUBLE_CLICK_WINDOW = timedelta(seconds=30)
"""Long enough to cover a nervous double click and Slack's own resend of a slow interaction,
short enough that clicking the same button again later (the next day's run) just works."""


@dataclass(frozen=True)
class ClickedButton:
    """Same message, same button, same value: the same click, whoever clicks."""

    team_id: str
    channel_id: str
    message_ts: str
    action_id: str
    value: str

    def key(self) -> str:
        return click_key(self.team_id, self.channel_id, self.message_ts, self.action_id, self.value)


@dataclass(frozen=True)
class Claim:
    """A claim held: `release` needs its time, so a newer claim of the same key survives."""

    key: str
    claimed_at: datetime


class AlreadyClicked(DomainError):
    """The same button was clicked a moment ago; this click is not acted on."""


class ClickClaims:
    def __init__(
        self,
        db: Database,
        *,
        window: timedelta = DOUBLE_CLICK_WINDOW,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._window = window
        self._clock = clock

    async def claim(self, button: ClickedButton, user_id: str) -> Claim:
        """Claims the click, committed before the action starts so another replica sees it;
        raises `AlreadyClicked` when the same click was claimed within the window."""
        claim = Claim(key=button.key(), claimed_at=self._clock())
        async with self._db.session() as session:
            claimed = await ClickRepository(session).claim(
                claim.key, user_id, claim.claimed_at, self._window
            )
        if not claimed:
            raise AlreadyClicked()
        return claim

    async def release(self, claim: Claim) -> None:
        """Gives a claim back after its action failed, so clicking again works at once."""
        async with self._db.session() as session:
            await ClickRepository(session).release(claim.key, claim.claimed_at)
