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
COMMIT before it posts, and records the `ts` only after the post.

Unknown outcomes are settled by reading Slack back
--------------------------------------------------
A post that gets no answer (timeout, dropped connection) or a 5xx may or may not have been
posted. It is never simply sent again (slack_sdk does not retry creating calls either, see
`bot.slack.clients`): the same `deliver` call restarts its claim's clock (`renew`), reads the
channel's history (top-level messages) or the thread's replies from the claim time on with
`include_all_metadata=true`, and looks for the key. Found: it was posted, only the `ts` is
recorded. Not found: it is posted once more. If that read or post gets no answer either, the
claim is kept.

A crash between 1 and 3 leaves a `claimed` row, which is never deleted, so the message is never
lost: whoever next tries the same delivery (the watcher re-polling its watch, the scanner
re-scanning the failure; both keep their work pending until the delivery is settled) finds it.
A fresh claim belongs to someone still working on it (`BUSY`). A claim older than `stale_after`
is adopted with `take_over`, which exactly one recoverer wins, and settled by the same read-back.
If Slack refuses the read (missing scope, not in channel) we post anyway and log it: a possible
duplicate is better than a lost failure alert.

Reading history may be rate limited; a read-back that gets no answer does not post, and
keeps the claim (`bot.slack.readback`). Exactly once holds; the message is only later.

Why a claim's age is safe to judge: every claim time and every age is the database server's
clock, never a replica's own (their clocks differ). And every attempt on a claim — the post,
or a read-back with all its pages plus the post — runs under one deadline of `send_timeout`
< `stale_after` from the moment the claim (or its renewal) is committed, so nobody else can
adopt a claim whose holder may still post.

Refusals are sorted by `bot.slack.errors` and applied by `bot.slack.refusals`: a paused
binding (`PAUSED`), a message given up (`GAVE_UP`), a retry after a backoff (`DEFERRED`,
`FAILED`).

Pacing: `ChannelPacer` spaces posts to one channel a second apart within this process, and
refuses (`DEFERRED`) a post that would wait longer than `max_wait`, so one busy channel cannot
hold a whole worker tick (and its leases). The wait comes before the claim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.services.announcements import Outcome
from bot.slack.clients import SlackClients
from bot.slack.deliveries import Attempt, ChannelPacer, DeliveryKey, DeliveryResult
from bot.slack.errors import Remedy, error_code, remedy_for, status_of
from bot.slack.messages import Message
from bot.slack.readback import ReadBack, Unreadable
from bot.slack.refusals import Refusals
from storage.batching import BulkWrite, WriteBatcher
from storage.models import Delivery, DeliveryKind, DeliveryStatus
from storage.repositories import DeliveryLedger
from storage.repositories.deliveries import SentMark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Claim:
    """What the ledger said when we tried to claim a key."""

    state: str  # "claimed", "sent", "busy", "backoff", "gave_up", "recover"
    ts: str | None = None
    claimed_at: datetime | None = None
    error: str | None = None


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
        max_attempts: int = 5,
        retry_base: float | None = None,
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
        self._refusals = Refusals(
            batcher=batcher,
            owner=owner,
            max_attempts=max_attempts,
            retry_base=retry_base if retry_base is not None else stale_after,
            clock=clock,
        )
        self._readback = ReadBack(batcher=batcher, owner=owner, stale_after=self.stale_after)
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._claims = BulkWrite[DeliveryKey, _Claim]("ledger claims", self._claim)
        self._marks = BulkWrite[SentMark, None]("ledger sent marks", _mark_sent_many)

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
        claimed_since = self._clock()
        claim = await self._batcher.run_bulk(self._claims, key)
        if claim.state == "sent":
            return DeliveryResult(Outcome.ALREADY_SENT, ts=claim.ts)
        if claim.state == "gave_up":
            return DeliveryResult(Outcome.GAVE_UP, error=claim.error)
        if claim.state == "busy":
            return DeliveryResult(Outcome.BUSY)
        if claim.state == "backoff":
            return DeliveryResult(Outcome.DEFERRED, error=claim.error)
        attempt = Attempt(key, message, thread_ts, broadcast)
        client = await self._slack.for_team(key.team_id)
        if claim.state == "recover":
            assert claim.claimed_at is not None
            since = claim.claimed_at
            result = await self._settle(client, attempt, since, self._deadline(), again=True)
        else:
            result = await self._post(client, attempt, self._deadline())
            if result.outcome == Outcome.UNKNOWN:
                result = await self._settle_now(client, attempt, claimed_since)
        return result

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
            error = error_code(exc)
            remedy = remedy_for(error) if status_of(exc) < 500 else Remedy.RETRY
            if remedy == Remedy.PAUSE:
                await self.pause_binding(team_id, channel_id, error)
                return True
            if remedy == Remedy.DROP:
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

    async def update_once(self, key: DeliveryKey, ts: str, message: Message) -> Outcome:
        """`chat.update` of `ts` done once for `key` (an alert's header edit), via the ledger.

        An edit is idempotent, so a claim left by a crash is simply redone: no read-back is
        needed. A message that can no longer be edited is given up at once (`DROP`), like a
        post that can never be made; other refusals are retried and paused as posts are.
        """
        claim = await self._batcher.run_bulk(self._claims, key)
        if claim.state == "sent":
            return Outcome.ALREADY_SENT
        if claim.state == "gave_up":
            return Outcome.GAVE_UP
        if claim.state == "busy":
            return Outcome.BUSY
        if claim.state == "backoff":
            return Outcome.DEFERRED
        client = await self._slack.for_team(key.team_id)
        try:
            async with asyncio.timeout_at(self._deadline()):
                await client.chat_update(**message.kwargs(channel=key.channel_id, ts=ts))
        except SlackApiError as exc:
            error, status = error_code(exc), status_of(exc)
            if status >= 500:
                log.warning("Slack answered %s to %s; outcome unknown", status, key.label)
                return Outcome.UNKNOWN
            return (await self._refusals.refused(key, error)).outcome
        except Exception as exc:
            log.warning("chat.update for %s got no answer (%s)", key.label, type(exc).__name__)
            return Outcome.UNKNOWN
        await self._mark_sent(key, ts)
        return Outcome.SENT

    async def pause_binding(self, team_id: str, channel_id: str, error: str) -> None:
        """Stops posting to a channel Slack refuses, and says why in `status` and the log."""
        await self._refusals.pause_binding(team_id, channel_id, error)

    def _deadline(self) -> float:
        """When the attempt on a claim committed just now must be over (see module doc)."""
        return asyncio.get_running_loop().time() + self._send_timeout

    # Ledger steps

    async def _claim(self, session: AsyncSession, requests: Sequence[DeliveryKey]) -> list[_Claim]:
        """What the ledger says to each claim of a flush (one INSERT for all of them)."""
        ledger = DeliveryLedger(session)
        won = await ledger.claim_many(
            [key.ledger_key for key in requests],
            owner=self.owner,
            subjects={k.ledger_key: k.subject for k in requests if k.subject is not None},
        )
        lost = {key.ledger_key for key in requests} - won
        rows = await ledger.get_many(lost) if lost else {}
        claims: list[_Claim] = []
        for key in requests:
            if key.ledger_key in won:
                won.discard(key.ledger_key)  # a key asked twice in one flush is won once
                claims.append(_Claim("claimed"))
                continue
            row = rows.get(key.ledger_key)
            if row is None:  # released in between, or our own claim asked twice: retry later
                claims.append(_Claim("busy"))
                continue
            claims.append(await self._existing(ledger, key, row))
        return claims

    async def _existing(self, ledger: DeliveryLedger, key: DeliveryKey, row: Delivery) -> _Claim:
        """Someone claimed `key` before us: sent, given up, refused, still theirs, or stale."""
        if row.status == DeliveryStatus.SENT:
            return _Claim("sent", ts=row.message_ts)
        if row.status == DeliveryStatus.GAVE_UP:
            return _Claim("gave_up", error=row.last_error)
        if row.status == DeliveryStatus.FAILED:
            backoff, error = self._refusals.backoff(row.attempts), row.last_error
            if await ledger.take_over(
                row.id, owner=self.owner, idle_for=backoff, status=DeliveryStatus.FAILED
            ):
                return _Claim("claimed")
            return _Claim("backoff", error=error)
        original, holder = row.claimed_at, row.claimed_by  # the UPDATE expires the row
        if self._readback.blocked(key):
            return _Claim("busy")  # its recovery would only meet the history rate limit again
        stale = self.stale_after.total_seconds()
        if not await ledger.take_over(row.id, owner=self.owner, idle_for=stale):
            return _Claim("busy")
        log.warning(
            "delivery %s was claimed by %s at %s and never marked sent; recovering it",
            key.label,
            holder,
            original.isoformat(),
        )
        return _Claim("recover", claimed_at=original)

    async def _mark_sent(self, key: DeliveryKey, ts: str | None) -> None:
        await self._batcher.run_bulk(self._marks, SentMark(key.ledger_key, ts, self._clock()))

    async def _renew(self, key: DeliveryKey) -> bool:
        return await self._batcher.run(
            lambda session: DeliveryLedger(session).renew(key.ledger_key, owner=self.owner)
        )

    # Slack steps

    async def _settle_now(
        self, client: AsyncWebClient, attempt: Attempt, since: datetime
    ) -> DeliveryResult:
        """Settles our own unknown outcome at once, instead of waiting for the claim to age."""
        if not await self._renew(attempt.key):
            return DeliveryResult(Outcome.BUSY)  # adopted meanwhile: theirs to settle
        log.info("settling %s: reading Slack back before posting again", attempt.key.label)
        return await self._settle(client, attempt, since, self._deadline(), again=False)

    async def _settle(
        self,
        client: AsyncWebClient,
        attempt: Attempt,
        since: datetime,
        deadline: float,
        *,
        again: bool,
    ) -> DeliveryResult:
        """Reads Slack back for a post of unknown outcome; posts only if it is not there.

        If that post's outcome is unknown too, `again` settles it at once (one more read-back).
        """
        key = attempt.key
        try:
            found = await self._readback.find(client, key, attempt.thread_ts, since, deadline)
        except Unreadable as exc:
            return await self._readback.keep_claim(key, exc, original=since if again else None)
        if found is not None:
            log.info("delivery %s was already in Slack (ts %s); recorded it", key.label, found)
            await self._mark_sent(key, found)
            return DeliveryResult(Outcome.ALREADY_SENT, ts=found)
        log.info("delivery %s was not in Slack; posting it now", key.label)
        result = await self._post(client, attempt, deadline)
        if result.outcome == Outcome.UNKNOWN and again:
            return await self._settle_now(client, attempt, since)
        return result

    async def _post(
        self, client: AsyncWebClient, attempt: Attempt, deadline: float
    ) -> DeliveryResult:
        key = attempt.key
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.chat_postMessage(**attempt.kwargs())
        except SlackApiError as exc:
            error, status = error_code(exc), status_of(exc)
            if status >= 500:
                log.warning("Slack answered %s to %s; outcome unknown", status, key.label)
                return DeliveryResult(Outcome.UNKNOWN, error=error)
            return await self._refusals.refused(key, error)
        except Exception as exc:
            log.warning("posting %s got no answer (%s)", key.label, type(exc).__name__)
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
