"""What the notifier does when Slack answers no: the remedies of `bot.slack.errors`, applied.

A refused call posted nothing, so its claim may be let go or kept as `failed`:

- `PAUSE` (the channel or token is unusable until a person acts): the binding is paused with
  the reason in plain words (shown by `status`), the claim released; the caller stops (`PAUSED`).
- `DROP` (this message can never be posted): the delivery is given up at once (`GAVE_UP`).
- `RETRY` (Slack's trouble, or an unknown code): kept as `failed` and retried after a backoff
  that doubles per attempt (`DEFERRED` until then); given up after `max_attempts` (`GAVE_UP`).
- `WAIT` (rate limited after slack_sdk's own Retry-After retries): the claim is released and
  the caller retries on its own schedule (`FAILED`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.services.announcements import Outcome
from bot.slack.deliveries import DeliveryKey, DeliveryResult
from bot.slack.errors import Remedy, pause_reason, remedy_for
from storage.batching import WriteBatcher
from storage.models import DeliveryStatus
from storage.repositories import BindingRepository, DeliveryLedger

log = logging.getLogger(__name__)

_RETRY_CAP_SECONDS = 600.0


class Refusals:
    """Applies the remedy of a Slack refusal to the ledger and the binding."""

    def __init__(
        self,
        *,
        batcher: WriteBatcher,
        owner: str,
        max_attempts: int,
        retry_base: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._batcher = batcher
        self._owner = owner
        self._max_attempts = max(1, max_attempts)
        self._retry_base = retry_base
        self._clock = clock

    def backoff(self, attempts: int) -> float:
        """Seconds a delivery refused `attempts` times waits before the next attempt."""
        return min(self._retry_base * 2.0 ** max(0, attempts - 1), _RETRY_CAP_SECONDS)

    async def refused(self, key: DeliveryKey, error: str) -> DeliveryResult:
        """Slack answered no: nothing was posted. What now depends on the error's remedy."""
        remedy = remedy_for(error)
        if remedy == Remedy.PAUSE:
            await self._release(key)
            await self.pause_binding(key.team_id, key.channel_id, error)
            return DeliveryResult(Outcome.PAUSED, error=error)
        if remedy == Remedy.WAIT:
            await self._release(key)
            log.warning("Slack rate-limited %s (%s); will retry", key.label, error)
            return DeliveryResult(Outcome.FAILED, error=error)
        return DeliveryResult(await self._record_failure(key, error, remedy), error=error)

    async def pause_binding(self, team_id: str, channel_id: str, error: str) -> None:
        """Stops posting to a channel Slack refuses, and says why in `status` and the log."""
        reason = pause_reason(error)
        now = self._clock()
        paused = await self._batcher.run(
            lambda session: BindingRepository(session).pause(team_id, channel_id, reason, now)
        )
        if paused:
            log.warning(
                "binding %s/%s paused: %s (%s)",
                team_id,
                channel_id,
                reason,
                error,
                extra={"team": team_id, "channel": channel_id, "slack_error": error},
            )

    async def _release(self, key: DeliveryKey) -> None:
        await self._batcher.run(
            lambda session: DeliveryLedger(session).release(*key.ledger_key, owner=self._owner)
        )

    async def _record_failure(self, key: DeliveryKey, error: str, remedy: Remedy) -> Outcome:
        """Counts Slack's refusal; GAVE_UP when it can never heal or came too often."""
        max_attempts = 1 if remedy == Remedy.DROP else self._max_attempts
        recorded = await self._batcher.run(
            lambda session: DeliveryLedger(session).record_failure(
                key.ledger_key, owner=self._owner, error=error, max_attempts=max_attempts
            )
        )
        if recorded is None:  # adopted by a recoverer meanwhile: it is theirs to settle
            return Outcome.BUSY
        status, attempts = recorded
        if status == DeliveryStatus.GAVE_UP:
            log.error(
                "gave up delivery %s after %d refused attempt(s): %s",
                key.label,
                attempts,
                error,
                extra={"team": key.team_id, "channel": key.channel_id, "slack_error": error},
            )
            return Outcome.GAVE_UP
        log.warning(
            "Slack refused %s (%s), attempt %d of %d; retrying in %.0fs",
            key.label,
            error,
            attempts,
            max_attempts,
            self.backoff(attempts),
        )
        return Outcome.FAILED
