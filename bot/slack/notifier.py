"""Posts the workers' messages to Slack exactly once, through the delivery ledger.

Exactly once, and why this order
--------------------------------
Slack has no idempotency key for `chat.postMessage`, and no database write can be atomic with
an HTTP call, so a crash can always fall between "Slack posted it" and "we recorded it". The
ledger (`storage.repositories.deliveries`) turns that into a state we can see and repair:

1. **claim** the key (team, channel, snapshot, kind) with INSERT ... ON CONFLICT DO NOTHING and
   COMMIT. Exactly one claimer wins, across tasks, processes and replicas; everyone else backs off.
2. **post**, with Slack message `metadata` naming the key (`event_type` `skyvia_delivery`).
3. **mark_sent** with the message `ts`.

Claims and marks of concurrent deliveries are coalesced (`storage.batching`): the claims
that reach the write batcher together go into one multi-row INSERT ... ON CONFLICT DO NOTHING
RETURNING, and the mark_sent writes into one executemany. That changes how many statements
the steps take, not their order for any one message: a `deliver` call still awaits its claim's
COMMIT before it posts, and records the `ts` only after the post. Which keys the INSERT
returned is decided by the unique key as before, so exactly one claimer still wins each key.

A crash between 1 and 3 leaves a `claimed` row. Nothing else ever deletes it, so the message is
never lost: whoever next tries the same delivery (the watcher re-polling its watch, the scanner
re-scanning the failure; both keep their work pending until the delivery is recorded) finds the
claim. A fresh claim belongs to someone still working on it (`BUSY`: try again later). A claim
older than `stale_after` — longer than any live attempt may take, because each post runs under
`send_timeout` < `stale_after` — is adopted with `take_over`, which exactly one recoverer wins.
The recoverer does not know whether step 2 happened, so it asks Slack: it reads the channel's
history (top-level messages) or the thread's replies from the original claim time on, with
`include_all_metadata=true`, looking for the key in the metadata. Found: the crash came after
the post, so it only records the `ts` (no duplicate). Not found: the post never happened, so
it posts (no loss). If Slack will not let us read the history (missing scope, not in channel),
we post anyway and log it: a possible duplicate is better than a lost failure alert.

Reading the history may be rate limited: apps distributed outside the Slack Marketplace get
`conversations.history` and `.replies` at one request a minute (15 messages a page). A recovery
that gets a 429 there, or no answer in time (slack_sdk waiting out `Retry-After`), does not post:
it hands the claim back with its original claim time (`hand_back`), so the next recovery still
reads from the first attempt, and this process leaves that channel's claims alone until the
`Retry-After` is over (`BUSY`). Exactly once holds; the message is only later.

Failures of the post itself are sorted by what they tell us:
- Slack answered with an error (`ok: false`, 4xx): nothing was posted, so the claim is released
  and the caller retries later with backoff. Rate limits were already retried inside slack_sdk
  (`AsyncRateLimitErrorRetryHandler`, honouring Retry-After) before we see `ratelimited` here.
- Errors that mean the channel is unusable (`channel_not_found`, `is_archived`, `not_in_channel`,
  `account_inactive`, `invalid_auth`, `token_revoked`): the binding is paused with the reason in
  plain words (shown by `status`), the claim released, and the caller stops retrying.
- No answer (timeout, dropped connection, 5xx after retries): the post may or may not have
  happened. The claim is kept, so it goes stale and the history check above settles it.

Pacing: Slack allows about one message per second per channel. `ChannelPacer` spaces posts to
one channel a second apart within this process, and refuses (`DEFERRED`) a post that would wait
longer than `max_wait`, so one busy channel cannot hold a whole worker tick (and its leases).
The wait comes before the claim, so however long it is, it never makes a claim look stale.
Slack's own 429s are handled by the retry handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.services.announcements import Outcome
from bot.slack.clients import SlackClients
from bot.slack.deliveries import (
    ChannelPacer,
    DeliveryKey,
    DeliveryResult,
    HistoryRateLimited,
    find_posted,
    slack_error,
)
from bot.slack.messages import Message
from storage.batching import BulkWrite, WriteBatcher
from storage.models import Delivery, DeliveryKind, DeliveryStatus
from storage.repositories import BindingRepository, DeliveryLedger
from storage.repositories.deliveries import SentMark

log = logging.getLogger(__name__)

PAUSE_REASONS: dict[str, str] = {
    "channel_not_found": "Slack says the channel does not exist or the bot cannot see it",
    "is_archived": "the channel is archived",
    "not_in_channel": "the bot is not a member of the channel",
    "account_inactive": "Slack no longer accepts the bot's token (app uninstalled?)",
    "invalid_auth": "Slack no longer accepts the bot's token (app uninstalled?)",
    "token_revoked": "Slack no longer accepts the bot's token (token revoked)",
}
"""Slack errors after which posting to the channel cannot work until a person acts."""

_BLOCKED_PRUNE_AT = 10_000
"""Channels whose history is left alone are forgotten once past due when there are this many."""


@dataclass(frozen=True)
class _Claim:
    """What the ledger said when we tried to claim a key."""

    state: str  # "claimed", "sent", "busy", "recover"
    ts: str | None = None
    claimed_at: datetime | None = None


class Notifier:
    """Thread replies, notes, alerts and card updates for the workers (see module docstring)."""

    def __init__(
        self,
        *,
        slack: SlackClients,
        batcher: WriteBatcher,
        owner: str,
        stale_after: float,
        send_timeout: float | None = None,
        max_pace_wait: float | None = None,
        pacer: ChannelPacer | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._slack = slack
        self._batcher = batcher
        self.owner = owner
        self.stale_after = timedelta(seconds=stale_after)
        self._send_timeout = send_timeout if send_timeout is not None else stale_after / 2
        if self._send_timeout >= stale_after:
            raise ValueError("send_timeout must be shorter than stale_after (see module doc)")
        self._max_pace_wait = max_pace_wait if max_pace_wait is not None else stale_after / 4
        self._pacer = pacer or ChannelPacer()
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._claims = BulkWrite[tuple[DeliveryKey, datetime], _Claim]("ledger claims", self._claim)
        self._marks = BulkWrite[SentMark, None]("ledger sent marks", _mark_sent_many)
        self._history_blocked: dict[tuple[str, str], float] = {}
        """(team, channel) -> monotonic time before which its history is not read again."""

    async def deliver(
        self,
        key: DeliveryKey,
        message: Message,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        max_pace_wait: float | None = None,
    ) -> DeliveryResult:
        """Posts `message` once for `key` (in the thread of `thread_ts` when given).

        `max_pace_wait` overrides how long this post may wait for the channel's pace: a caller
        that does not hold a scarce slot while it waits may queue further ahead.
        """
        limit = self._max_pace_wait if max_pace_wait is None else max_pace_wait
        wait = self._pacer.reserve((key.team_id, key.channel_id), limit)
        if wait is None:
            return DeliveryResult(Outcome.DEFERRED)
        if wait > 0:
            await self._sleep(wait)
        claim = await self._batcher.run_bulk(self._claims, (key, self._clock()))
        if claim.state == "sent":
            return DeliveryResult(Outcome.ALREADY_SENT, ts=claim.ts)
        if claim.state == "busy":
            return DeliveryResult(Outcome.BUSY)
        client = await self._slack.for_team(key.team_id)
        if claim.state == "recover":
            assert claim.claimed_at is not None
            try:
                found = await self._recover(client, key, thread_ts, claim.claimed_at)
            except HistoryRateLimited as limited:
                return await self._hand_back(key, claim.claimed_at, limited.retry_after)
            if found is not None:
                await self._mark_sent(key, found)
                return DeliveryResult(Outcome.ALREADY_SENT, ts=found)
        return await self._post(client, key, message, thread_ts=thread_ts, broadcast=broadcast)

    async def update(self, team_id: str, channel_id: str, ts: str, message: Message) -> bool:
        """`chat.update` of a message we posted (the lifecycle card).

        Idempotent, so it needs no ledger. True when there is nothing left to do (updated, or the
        card is gone or the channel unusable); False when it may work later (retry).
        """
        client = await self._slack.for_team(team_id)
        try:
            async with asyncio.timeout(self._send_timeout):
                await client.chat_update(**message.kwargs(channel=channel_id, ts=ts))
            return True
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in PAUSE_REASONS:
                await self.pause_binding(team_id, channel_id, error)
                return True
            if error in ("message_not_found", "cant_update_message", "edit_window_closed"):
                log.warning(
                    "card %s in %s/%s cannot be updated (%s); leaving it",
                    ts,
                    team_id,
                    channel_id,
                    error,
                )
                return True
            log.warning("chat.update of %s in %s/%s failed: %s", ts, team_id, channel_id, error)
            return False
        except Exception as exc:
            log.warning(
                "chat.update of %s in %s/%s got no answer: %s", ts, team_id, channel_id, exc
            )
            return False

    async def pause_binding(self, team_id: str, channel_id: str, error: str) -> None:
        """Stops posting to a channel Slack refuses, and says why in `status` and the log."""
        reason = PAUSE_REASONS.get(error, f"Slack refused posts ({error})")
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

    # Ledger steps

    async def _claim(
        self, session: AsyncSession, requests: Sequence[tuple[DeliveryKey, datetime]]
    ) -> list[_Claim]:
        """What the ledger says to each claim of a flush (one INSERT for all of them)."""
        ledger = DeliveryLedger(session)
        won = await ledger.claim_many(
            [(key.ledger_key, now) for key, now in requests], owner=self.owner
        )
        lost = {key.ledger_key for key, _ in requests} - won
        rows = await ledger.get_many(lost) if lost else {}
        claims: list[_Claim] = []
        for key, now in requests:
            if key.ledger_key in won:
                won.discard(key.ledger_key)  # a key asked twice in one flush is won once
                claims.append(_Claim("claimed"))
                continue
            row = rows.get(key.ledger_key)
            if row is None:  # released in between, or our own claim asked twice: retry later
                claims.append(_Claim("busy"))
                continue
            claims.append(await self._existing(ledger, key, row, now))
        return claims

    async def _existing(
        self, ledger: DeliveryLedger, key: DeliveryKey, row: Delivery, now: datetime
    ) -> _Claim:
        """Someone claimed `key` before us: sent, still theirs, or a stale leftover we adopt."""
        if row.status == DeliveryStatus.SENT:
            return _Claim("sent", ts=row.message_ts)
        older_than = now - self.stale_after
        if row.claimed_at >= older_than:
            return _Claim("busy")
        if self._history_blocked.get((key.team_id, key.channel_id), 0.0) > time.monotonic():
            return _Claim("busy")  # its recovery would only meet the history rate limit again
        original = row.claimed_at
        if not await ledger.take_over(row.id, owner=self.owner, now=now, older_than=older_than):
            return _Claim("busy")
        log.warning(
            "delivery %s was claimed by %s at %s and never marked sent; recovering it",
            key.label,
            row.claimed_by,
            original.isoformat(),
        )
        return _Claim("recover", claimed_at=original)

    async def _mark_sent(self, key: DeliveryKey, ts: str | None) -> None:
        await self._batcher.run_bulk(self._marks, SentMark(key.ledger_key, ts, self._clock()))

    async def _release(self, key: DeliveryKey) -> None:
        await self._batcher.run(
            lambda session: DeliveryLedger(session).release(
                key.team_id, key.channel_id, key.snapshot_id, key.kind, owner=self.owner
            )
        )

    async def _hand_back(
        self, key: DeliveryKey, claimed_at: datetime, retry_after: float
    ) -> DeliveryResult:
        """A recovery that could not read the history: keep the claim, try again later."""
        now = time.monotonic()
        if len(self._history_blocked) > _BLOCKED_PRUNE_AT:
            self._history_blocked = {k: t for k, t in self._history_blocked.items() if t > now}
        self._history_blocked[(key.team_id, key.channel_id)] = now + retry_after
        await self._batcher.run(
            lambda session: DeliveryLedger(session).hand_back(
                key.ledger_key, owner=self.owner, claimed_at=claimed_at
            )
        )
        log.warning(
            "cannot read the Slack history of %s/%s yet (rate limited or no answer); delivery %s "
            "keeps its claim and is recovered in %.0fs or later, never posted blindly",
            key.team_id,
            key.channel_id,
            key.label,
            retry_after,
            extra={"team": key.team_id, "channel": key.channel_id},
        )
        return DeliveryResult(Outcome.UNKNOWN, error="history_ratelimited")

    # Slack steps

    async def _recover(
        self,
        client: AsyncWebClient,
        key: DeliveryKey,
        thread_ts: str | None,
        claimed_at: datetime,
    ) -> str | None:
        """The `ts` of the message if a crashed attempt posted it, else None (post again)."""
        try:
            found = await find_posted(client, key, thread_ts, claimed_at, self._send_timeout)
        except HistoryRateLimited:
            raise
        except Exception as exc:
            log.warning(
                "cannot read Slack history to recover %s (%s); posting again, which may "
                "duplicate it rather than lose it",
                key.label,
                slack_error(exc) if isinstance(exc, SlackApiError) else exc,
            )
            return None
        if found is not None:
            log.info("delivery %s was already in Slack (ts %s); recorded it", key.label, found)
        else:
            log.info("delivery %s was not in Slack; posting it now", key.label)
        return found

    async def _post(
        self,
        client: AsyncWebClient,
        key: DeliveryKey,
        message: Message,
        *,
        thread_ts: str | None,
        broadcast: bool,
    ) -> DeliveryResult:
        extra: dict[str, Any] = {"channel": key.channel_id, "metadata": key.metadata()}
        if thread_ts is not None:
            extra["thread_ts"] = thread_ts
            if broadcast:
                extra["reply_broadcast"] = True
        kwargs = message.kwargs(**extra)
        try:
            async with asyncio.timeout(self._send_timeout):
                response = await client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            error = slack_error(exc)
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500:
                log.warning("Slack answered %s to %s; outcome unknown", status, key.label)
                return DeliveryResult(Outcome.UNKNOWN, error=error)
            await self._release(key)
            if error in PAUSE_REASONS:
                await self.pause_binding(key.team_id, key.channel_id, error)
                return DeliveryResult(Outcome.PAUSED, error=error)
            log.warning("Slack refused %s: %s; will retry", key.label, error)
            return DeliveryResult(Outcome.FAILED, error=error)
        except Exception as exc:
            log.warning(
                "posting %s got no answer (%s); the claim stays for recovery",
                key.label,
                type(exc).__name__,
            )
            return DeliveryResult(Outcome.UNKNOWN, error=type(exc).__name__)
        ts = str(response.get("ts"))
        await self._mark_sent(key, ts)
        self._count(key.kind)
        return DeliveryResult(Outcome.SENT, ts=ts)

    def _count(self, kind: str) -> None:
        if self._metrics is None:
            return
        if kind == DeliveryKind.THREAD_REPLY:
            self._metrics.thread_replies_sent.inc()
        elif kind == DeliveryKind.ALERT:
            self._metrics.alerts_sent.inc()


async def _mark_sent_many(session: AsyncSession, marks: Sequence[SentMark]) -> list[None]:
    await DeliveryLedger(session).mark_sent_many(marks)
    return [None] * len(marks)
