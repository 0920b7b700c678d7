"""The workers' messages: owed through the outbox, sent to Slack exactly once by the senders.

Owing is not sending
--------------------
A service that owes a message (a watch finished, a failure seen, a timer fired) calls the
`Announcer` port, whose Slack side calls `deliver`/`update`/`update_once` here. They only write
the message's row into the outbox (`storage.repositories.outbox`: the delivery ledger, unique per
(team, channel, snapshot, kind), with the Web API call as its payload) and answer how it stands:
`QUEUED` (a sender will post it), `ALREADY_SENT` (with its `ts`) or `GAVE_UP`. No service waits
for Slack, so a scan round lasts about one interval whatever the number of channels
(docs/reference/guarantees.md#exactly-once).

Writing a row whose key exists is a no-op, and every service writes its rows *before* recording
the state change that owes them and writes them again when it redoes that change after a crash:
so a message is never lost between the two, and never owed twice.

Sending: exactly once, and why this order
-----------------------------------------
The senders (`bot.slack.delivery.senders`) claim rows (`pending` -> `claimed`, one winner per row
across replicas) and call `send` here:

1. the row is ours (claimed, committed);
2. **post**, with Slack message `metadata` naming the key (`event_type` `skyvia_delivery`);
3. **mark_sent** with the message `ts`.

Slack has no idempotency key for `chat.postMessage`, so a post that gets no answer (timeout,
dropped connection) or a 5xx may or may not have been posted. It is never simply sent again
(slack_sdk does not retry creating calls either, see `bot.slack.clients`): `send` restarts its
claim's clock (`renew`), reads the channel's history or the thread's replies from the claim time
on with `include_all_metadata=true`, and looks for the key. Found: only the `ts` is recorded. Not
found: it is posted once more. If that read gets no answer either, the claim is kept; once stale
(`stale_after`, the database's clock), a sender adopts it (`take_over`, one winner) and settles it
by the same read-back (`recover`). If Slack refuses the read (missing scope, not in channel) we
post anyway and log it: a possible duplicate is better than a lost failure alert.

Every attempt on a claim — the post, or a read-back with all its pages plus the post — runs under
one deadline of `send_timeout` < `stale_after` from the moment the claim (or its renewal) is
committed, so nobody else can adopt a claim whose holder may still post.

Edits (`chat.update` of a card or an alert's header) are idempotent: a crash leftover is simply
redone, and pending edits of one message coalesce in the sender (only the latest is sent).

Refusals are sorted by `bot.slack.delivery.errors` and applied by `bot.slack.delivery.refusals`: a
paused binding (its queued rows given up), a message given up, a retry after a backoff, or (429) a
wait that holds the pace's bucket (`bot.slack.delivery.pacing`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.services.announcements import Outcome
from bot.services.channel_pauses import ChannelPauses
from bot.slack.clients import SlackClients, callers_pace
from bot.slack.delivery.errors import error_code, refused_outright, retry_after_of, status_of
from bot.slack.delivery.keys import Attempt, DeliveryKey, DeliveryResult, priority_of
from bot.slack.delivery.readback import ReadBack, Unreadable
from bot.slack.delivery.refusals import Refusals
from bot.slack.delivery.steps import StepCompleter
from bot.slack.messages import Message
from storage.batching import BulkWrite, WriteBatcher
from storage.models import DeliveryKind, DeliveryStatus
from storage.repositories import DeliveryLedger
from storage.repositories.deliveries import SentMark
from storage.repositories.outbox import Outbox, OutboxEntry, QueuedRow, RowState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """How one send went, for the sender: the result, and a 429's `Retry-After` to hold."""

    result: DeliveryResult
    retry_after: float | None = None


class Notifier:
    """Owes messages into the outbox and sends claimed rows (see module docstring)."""

    def __init__(
        self,
        *,
        slack: SlackClients,
        batcher: WriteBatcher,
        pauses: ChannelPauses,
        owner: str,
        stale_after: float,
        send_timeout: float | None = None,
        max_attempts: int = 5,
        retry_base: float | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        steps: StepCompleter | None = None,
        send_batcher: WriteBatcher | None = None,
    ) -> None:
        """`batcher` takes what services owe; `send_batcher` (default: the same) the sending
        side's writes (sent marks, renewals, refusals, read-backs), so that on PostgreSQL a
        wave's sending does not queue the scanner's and watcher's writes behind its own."""
        self._slack = slack
        self.steps = steps
        """Completes Workflow Builder steps: rows whose call is `fn`
        (`bot.slack.delivery.steps`)."""
        self._batcher = batcher
        sending = send_batcher or batcher
        self._sending = sending
        self.owner = owner
        self.stale_after = timedelta(seconds=stale_after)
        self._send_timeout = send_timeout if send_timeout is not None else stale_after / 2
        if self._send_timeout >= stale_after:
            raise ValueError("send_timeout must be shorter than stale_after (see module doc)")
        self.refusals = Refusals(
            batcher=sending,
            pauses=pauses,
            owner=owner,
            max_attempts=max_attempts,
            retry_base=retry_base if retry_base is not None else stale_after,
            clock=clock,
        )
        self._readback = ReadBack(batcher=sending, owner=owner, stale_after=self.stale_after)
        self._metrics = metrics
        self._clock = clock
        self._owed = BulkWrite[OutboxEntry, RowState]("outbox rows", self._enqueue)
        self.owed = 0
        """Messages owed through this notifier so far (a sender looks again when it moves)."""
        self._marks = BulkWrite[SentMark, None]("ledger sent marks", _mark_sent_many)

    # Owing (services, through the announcer)

    async def deliver(
        self,
        key: DeliveryKey,
        message: Message,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> DeliveryResult:
        """Owes `message` once for `key` (in the thread of `thread_ts` when given)."""
        payload = _payload(message, thread_ts=thread_ts, broadcast=broadcast)
        entry = OutboxEntry(key.ledger_key, priority_of(key.kind), payload, subject=key.subject)
        return _result(await self._batcher.run_bulk(self._owed, entry))

    async def update_once(self, key: DeliveryKey, ts: str, message: Message) -> Outcome:
        """Owes a `chat.update` of `ts` once for `key` (an alert's header, a card's state)."""
        target = f"{key.channel_id}/{ts}"
        payload = _payload(message, ts=ts)
        entry = OutboxEntry(key.ledger_key, priority_of(key.kind, edit=True), payload, target)
        return _result(await self._batcher.run_bulk(self._owed, entry)).outcome

    async def _enqueue(
        self, session: AsyncSession, entries: Sequence[OutboxEntry]
    ) -> list[RowState]:
        self.owed += len(entries)
        states = await Outbox(session).enqueue_many(entries, owner=self.owner)
        return [states[entry.key] for entry in entries]

    # Sending (the senders, `bot.slack.delivery.senders`)

    async def send(
        self, row: QueuedRow, *, recover: bool = False, answered: Callable[[], None] | None = None
    ) -> Sent:
        """Sends a row the caller claimed (`recover`: a stale claim it adopted).

        `answered` is called once Slack accepted the post or edit, before its "sent" mark is
        written: what comes next in the channel may go from then on.
        """
        key = DeliveryKey(row.team_id, row.channel_id, row.snapshot_id, row.kind)
        call = json.loads(row.payload)
        client = await self._slack.for_team(row.team_id)
        with callers_pace():
            if "fn" in call and self.steps is not None:
                done = await self.steps.send(
                    row, call, refusals=self.refusals, mark_sent=self._mark_sent
                )
                return Sent(done.result, done.retry_after)
            if "ts" in call:
                return await self._edit(client, row, key, call, answered)
            attempt = Attempt(
                key, _message(call), call.get("thread_ts"), bool(call.get("b")), row.id
            )
            if recover:
                since = row.claimed_at
                result = await self._settle(client, attempt, since, self._deadline(), again=True)
                return Sent(result)
            sent = await self._post(client, attempt, self._deadline(), answered)
            if sent.result.outcome == Outcome.UNKNOWN:
                return Sent(await self._settle_now(client, attempt, row.claimed_at))
            return sent

    def history_blocked(self, row: QueuedRow) -> bool:
        """True while the row's channel history is rate limited: its recovery would only meet
        the limit again (`bot.slack.delivery.readback`)."""
        return self._readback.blocked(
            DeliveryKey(row.team_id, row.channel_id, row.snapshot_id, row.kind)
        )

    async def _edit(
        self,
        client: AsyncWebClient,
        row: QueuedRow,
        key: DeliveryKey,
        call: dict[str, Any],
        answered: Callable[[], None] | None = None,
    ) -> Sent:
        """`chat.update`: idempotent, so an unknown outcome is simply retried later."""
        ts = str(call["ts"])
        try:
            async with asyncio.timeout_at(self._deadline()):
                await client.chat_update(**_message(call).kwargs(channel=row.channel_id, ts=ts))
        except SlackApiError as exc:
            error, status = error_code(exc), status_of(exc)
            if not refused_outright(exc):
                log.warning("Slack answered %s to edit %s; retrying it", status, key.label)
                return Sent(await self.refusals.retry(key, error, count=False))
            wait = retry_after_of(exc) if status == 429 else None
            if error == "message_not_found":
                await self.refusals.thread_gone(key, ts)
            return Sent(await self.refusals.refused(key, error, retry_after=wait), wait)
        except Exception as exc:
            log.warning("edit %s got no answer (%s)", key.label, type(exc).__name__)
            return Sent(await self.refusals.retry(key, type(exc).__name__, count=False))
        if answered is not None:
            answered()
        await self._mark_sent(key, ts, row.id)
        return Sent(DeliveryResult(Outcome.SENT, ts=ts))

    def _deadline(self) -> float:
        """When the attempt on a claim committed just now must be over (see module doc)."""
        return asyncio.get_running_loop().time() + self._send_timeout

    async def _mark_sent(self, key: DeliveryKey, ts: str | None, row_id: int | None = None) -> None:
        mark = SentMark(key.ledger_key, ts, self._clock(), row_id)
        await self._sending.run_bulk(self._marks, mark)

    async def _renew(self, key: DeliveryKey) -> bool:
        return await self._sending.run(
            lambda session: DeliveryLedger(session).renew(key.ledger_key, owner=self.owner)
        )

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
            await self._mark_sent(key, found, attempt.row_id)
            return DeliveryResult(Outcome.ALREADY_SENT, ts=found)
        log.info("delivery %s was not in Slack; posting it now", key.label)
        sent = await self._post(client, attempt, deadline)
        if sent.result.outcome == Outcome.UNKNOWN and again:
            return await self._settle_now(client, attempt, since)
        return sent.result

    async def _post(
        self,
        client: AsyncWebClient,
        attempt: Attempt,
        deadline: float,
        answered: Callable[[], None] | None = None,
    ) -> Sent:
        key = attempt.key
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.chat_postMessage(**attempt.kwargs())
        except SlackApiError as exc:
            error, status = error_code(exc), status_of(exc)
            if not refused_outright(exc):
                log.warning("Slack answered %s to %s; outcome unknown", status, key.label)
                return Sent(DeliveryResult(Outcome.UNKNOWN, error=error))
            wait = retry_after_of(exc) if status == 429 else None
            if error == "thread_not_found" and attempt.thread_ts is not None:
                await self.refusals.thread_gone(key, attempt.thread_ts)
            return Sent(await self.refusals.refused(key, error, retry_after=wait), wait)
        except Exception as exc:
            log.warning("posting %s got no answer (%s)", key.label, type(exc).__name__)
            return Sent(DeliveryResult(Outcome.UNKNOWN, error=type(exc).__name__))
        ts = str(response.get("ts"))
        if answered is not None:
            answered()
        await self._mark_sent(key, ts, attempt.row_id)
        self._count(key.kind)
        return Sent(DeliveryResult(Outcome.SENT, ts=ts))

    def _count(self, kind: str) -> None:
        if self._metrics is None:
            return
        if kind == DeliveryKind.THREAD_REPLY:
            self._metrics.thread_replies_sent.inc()
        elif kind == DeliveryKind.ALERT:
            self._metrics.alerts_sent.inc()


def _payload(
    message: Message,
    *,
    thread_ts: str | None = None,
    broadcast: bool = False,
    ts: str | None = None,
) -> str:
    """The outbox row's call as JSON: the message (serialized once per message, shared by every
    channel it goes to) and where it goes in the channel."""
    where: dict[str, Any] = {}
    if thread_ts is not None:
        where["thread_ts"] = thread_ts
        if broadcast:
            where["b"] = 1
    if ts is not None:
        where["ts"] = ts
    body = message.json()
    if not where:
        return _in_the_channel(body)
    return json.dumps(where)[:-1] + ',"m":' + body + "}"


@functools.lru_cache(maxsize=256)
def _in_the_channel(body: str) -> str:
    """The payload of a message posted in the channel itself: one string for every channel a
    message is owed to (a wave's alert goes to each listening channel: 25,000 rows, each a
    copy, were 57 MiB of the bot's peak in the alert benchmark). Keyed by the message's JSON,
    itself made once per message."""
    return '{"m":' + body + "}"


def _message(call: dict[str, Any]) -> Message:
    drawn = call["m"]
    return Message.from_dicts(drawn["text"], drawn.get("blocks") or [])


def _result(state: RowState) -> DeliveryResult:
    if state.status == DeliveryStatus.SENT:
        return DeliveryResult(Outcome.ALREADY_SENT, ts=state.message_ts)
    if state.status == DeliveryStatus.GAVE_UP:
        return DeliveryResult(Outcome.GAVE_UP, error=state.error)
    return DeliveryResult(Outcome.QUEUED)


async def _mark_sent_many(session: AsyncSession, marks: Sequence[SentMark]) -> list[None]:
    await DeliveryLedger(session).mark_sent_many(marks)
    return [None] * len(marks)
