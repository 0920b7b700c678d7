"""What a sender does when Slack answers no: the remedies of `bot.slack.delivery.errors`, applied.

A refused call posted nothing, so its outbox row goes back to the queue or is given up:

- `PAUSE` (the channel or token is unusable until a person acts): the binding is paused with
  the reason in plain words (shown by `status`; `ChannelPauses.pause_channel`, the one way a
  binding is paused), then the row and every other row queued for that channel are given up
  (`PAUSED`): nothing more is tried there until it is reconnected.
- `DROP` (this message can never be posted): the row is given up at once (`GAVE_UP`).
- `RETRY` (Slack's trouble, or an unknown code): back to the queue after a backoff that doubles
  per attempt (`FAILED`); given up after `max_attempts` (`GAVE_UP`).
- `WAIT` (429): back to the queue until `Retry-After`, not counted as an attempt (`DEFERRED`);
  the sender also holds the bucket (`bot.slack.delivery.pacing`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.announcements import Outcome
from bot.services.channel_pauses import ChannelPauses
from bot.slack.delivery.errors import Remedy, pause_reason, remedy_for
from bot.slack.delivery.keys import DeliveryKey, DeliveryResult
from storage.batching import WriteBatcher
from storage.models import DeliveryStatus
from storage.repositories.outbox import Outbox

log = logging.getLogger(__name__)

_RETRY_CAP_SECONDS = 600.0
RATE_LIMIT_WAIT = 30.0
"""Seconds a 429 that named no `Retry-After` holds its row and bucket."""


class Refusals:
    """Applies the remedy of a Slack refusal to the outbox and the binding."""

    def __init__(
        self,
        *,
        batcher: WriteBatcher,
        pauses: ChannelPauses,
        owner: str,
        max_attempts: int,
        retry_base: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._batcher = batcher
        self._pauses = pauses
        self._owner = owner
        self._max_attempts = max(1, max_attempts)
        self._retry_base = retry_base
        self._clock = clock

    def backoff(self, attempts: int) -> float:
        """Seconds a delivery refused `attempts` times waits before the next attempt."""
        return min(self._retry_base * 2.0 ** max(0, attempts - 1), _RETRY_CAP_SECONDS)

    async def refused(
        self, key: DeliveryKey, error: str, *, retry_after: float | None = None
    ) -> DeliveryResult:
        """Slack answered no: nothing was posted. What now depends on the error's remedy."""
        remedy = remedy_for(error)
        if retry_after is not None:
            remedy = Remedy.WAIT
        if remedy == Remedy.PAUSE:
            await self._requeue(key, error, count=True, max_attempts=1)
            await self.pause_binding(key.team_id, key.channel_id, error)
            return DeliveryResult(Outcome.PAUSED, error=error)
        if remedy == Remedy.WAIT:
            wait = retry_after if retry_after is not None else RATE_LIMIT_WAIT
            await self._requeue(key, error, count=False, delay=wait)
            log.info("Slack rate-limited %s (%s); held for %.0fs", key.label, error, wait)
            return DeliveryResult(Outcome.DEFERRED, error=error)
        max_attempts = 1 if remedy == Remedy.DROP else self._max_attempts
        return DeliveryResult(await self._count(key, error, max_attempts), error=error)

    async def thread_gone(self, key: DeliveryKey, thread_ts: str) -> None:
        """A reply or an edit found its message deleted: the message it was (an alert) is no
        longer there to reply to, so what follows it starts again with a new alert."""
        gone = await self._batcher.run(
            lambda session: Outbox(session).mark_thread_gone(key.team_id, key.channel_id, thread_ts)
        )
        if gone:
            log.warning(
                "message %s in %s/%s was deleted; the next failure alerts anew",
                thread_ts,
                key.team_id,
                key.channel_id,
                extra={"team": key.team_id, "channel": key.channel_id},
            )

    async def give_up(self, key: DeliveryKey, error: str) -> DeliveryResult:
        """Gives the row up at once, touching no binding: a refusal of this message alone
        whose code would otherwise pause the channel (a step's own token, revoked)."""
        return DeliveryResult(await self._count(key, error, 1), error=error)

    async def retry(self, key: DeliveryKey, error: str, *, count: bool) -> DeliveryResult:
        """Back to the queue after the first backoff (an edit that got no answer: `count` off)."""
        if not count:
            await self._requeue(key, error, count=False, delay=self.backoff(1))
            return DeliveryResult(Outcome.FAILED, error=error)
        return DeliveryResult(await self._count(key, error, self._max_attempts), error=error)

    async def pause_binding(self, team_id: str, channel_id: str, error: str) -> None:
        """Stops posting to a channel Slack refuses: its binding is paused (why, in `status` and
        the log), then every message still queued for it is given up."""
        await self._pauses.pause_channel(
            team_id, channel_id, pause_reason(error), now=self._clock(), slack_error=error
        )
        dropped = await self._batcher.run(
            lambda session: Outbox(session).give_up_channel(team_id, channel_id, f"paused: {error}")
        )
        if dropped:
            log.warning(
                "%d queued message(s) for %s/%s given up: the channel is paused (%s)",
                dropped,
                team_id,
                channel_id,
                error,
                extra={"team": team_id, "channel": channel_id, "slack_error": error},
            )

    async def _requeue(
        self,
        key: DeliveryKey,
        error: str,
        *,
        count: bool,
        delay: float = 0.0,
        max_attempts: int | None = None,
    ) -> tuple[str, int] | None:
        limit = self._max_attempts if max_attempts is None else max_attempts
        return await self._batcher.run(
            lambda session: Outbox(session).requeue(
                key.ledger_key,
                owner=self._owner,
                delay=delay,
                error=error,
                count=count,
                max_attempts=limit,
            )
        )

    async def _count(self, key: DeliveryKey, error: str, max_attempts: int) -> Outcome:
        """Counts Slack's refusal; GAVE_UP when it can never heal or came too often."""

        async def count(session: AsyncSession) -> tuple[str, int] | None:
            # One transaction: no sender sees the row queued before its backoff is set.
            outbox = Outbox(session)
            recorded = await outbox.requeue(
                key.ledger_key,
                owner=self._owner,
                delay=0.0,
                error=error,
                count=True,
                max_attempts=max_attempts,
            )
            if recorded is not None and recorded[0] == DeliveryStatus.PENDING:
                await outbox.delay(key.ledger_key, delay=self.backoff(recorded[1]))
            return recorded

        recorded = await self._batcher.run(count)
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
        delay = self.backoff(attempts)
        log.warning(
            "Slack refused %s (%s), attempt %d of %d; retrying in %.0fs",
            key.label,
            error,
            attempts,
            max_attempts,
            delay,
        )
        return Outcome.FAILED
