"""Finding a message the bot posted, by the ledger key in its metadata.

Slack has no idempotency key for `chat.postMessage`. When a post's outcome is unknown (a 500,
a dropped connection, a crash) the only way to know whether it went out is to read the channel
(or the thread) back and look for the key the notifier put in the message's `metadata`.

Reading history may be rate limited: apps distributed outside the Slack Marketplace get
`conversations.history` and `.replies` at one request a minute (15 messages a page). A read-back
that gets a 429, or no answer before its deadline (slack_sdk may still be waiting out a
`Retry-After`), settles nothing: the message may or may not be there, so nothing may be posted.
`ReadBack` then keeps the claim (an adopted one handed back with its original claim time, so the
next recovery still reads from the first attempt) and leaves the channel's claims alone until the
`Retry-After` is over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.announcements import Outcome
from bot.slack.delivery.errors import error_code, retry_after_of, status_of
from bot.slack.delivery.keys import DELIVERY_EVENT_TYPE, DeliveryKey, DeliveryResult
from storage.batching import WriteBatcher
from storage.repositories import DeliveryLedger

log = logging.getLogger(__name__)

LOOKUP_SKEW_SECONDS = 120.0
"""Read Slack's history from this long before the claim: the database's clock and Slack's
may differ."""
LOOKUP_MAX_PAGES = 10
"""Pages of 200 messages read at most; all of them share one deadline (`find_posted`)."""
HISTORY_RETRY_AFTER = 60.0
"""Seconds to leave a channel's history alone after a 429 that named no `Retry-After`."""
_BLOCKED_PRUNE_AT = 10_000
"""Channels whose history is left alone are forgotten once past due when there are this many."""


async def find_posted(
    client: AsyncWebClient,
    *,
    channel: str,
    label: str,
    thread_ts: str | None,
    since: datetime,
    deadline: float,
) -> str | None:
    """The `ts` of the message whose metadata names `label`, posted since about `since`.

    Top-level messages are read from `conversations.history`, thread replies from
    `conversations.replies`. Every page is read before the loop time `deadline`, so a
    read-back never outlasts the claim it settles (TimeoutError past it).
    """
    args: dict[str, Any] = {
        "channel": channel,
        "oldest": f"{since.timestamp() - LOOKUP_SKEW_SECONDS:.6f}",
        "include_all_metadata": True,
        "limit": 200,
    }
    cursor: str | None = None
    for _ in range(LOOKUP_MAX_PAGES):
        async with asyncio.timeout_at(deadline):
            if thread_ts is not None:
                page = await client.conversations_replies(ts=thread_ts, cursor=cursor, **args)
            else:
                page = await client.conversations_history(cursor=cursor, **args)
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == DELIVERY_EVENT_TYPE and payload.get("key") == label:
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
    return None


class Unreadable(Exception):
    """Slack gave no answer to a read-back: whether the message is there is still unknown.

    `retry_after`: Slack rate-limited the read (or slack_sdk was still waiting out a 429 when
    the deadline came), so reading that channel again sooner is pointless.
    """

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class ReadBack:
    """Reads Slack back for the notifier, and keeps the claim when Slack will not answer."""

    def __init__(self, *, batcher: WriteBatcher, owner: str, stale_after: timedelta) -> None:
        self._batcher = batcher
        self._owner = owner
        self._stale_after = stale_after
        self._blocked: dict[tuple[str, str], float] = {}
        """(team, channel) -> monotonic time before which its history is not read again."""

    def blocked(self, key: DeliveryKey) -> bool:
        """True while the channel's history is rate limited: a recovery would only meet it."""
        return self._blocked.get((key.team_id, key.channel_id), 0.0) > time.monotonic()

    async def find(
        self,
        client: AsyncWebClient,
        key: DeliveryKey,
        thread_ts: str | None,
        since: datetime,
        deadline: float,
    ) -> str | None:
        """The `ts` if the message is in Slack, None if not (or if Slack refuses the read:
        then posting may duplicate it, which is better than losing it). `Unreadable` when
        Slack gave no answer, so nothing may be posted."""
        try:
            return await find_posted(
                client,
                channel=key.channel_id,
                label=key.label,
                thread_ts=thread_ts,
                since=since,
                deadline=deadline,
            )
        except SlackApiError as exc:
            if _is_rate_limited(exc):
                raise Unreadable(
                    "history_ratelimited", retry_after_of(exc, HISTORY_RETRY_AFTER)
                ) from exc
            if status_of(exc) >= 500:
                raise Unreadable(f"{status_of(exc)} {error_code(exc)}") from exc
            log.warning(
                "Slack will not let us read back %s (%s); posting it, which may duplicate it "
                "rather than lose it",
                key.label,
                error_code(exc),
            )
            return None
        except TimeoutError as exc:  # the deadline; maybe slack_sdk waiting out a Retry-After
            raise Unreadable("history_ratelimited", HISTORY_RETRY_AFTER) from exc
        except Exception as exc:
            raise Unreadable(type(exc).__name__) from exc

    async def keep_claim(
        self, key: DeliveryKey, why: Unreadable, *, original: datetime | None
    ) -> DeliveryResult:
        """A read-back without an answer: nothing may be posted blindly, so the claim stays.

        An adopted crash leftover (`original`: its claim time) is handed back as it was, so it
        is still stale and the next recovery reads from that first attempt on. Our own claim
        keeps its renewed time: our post may still land, so nobody may adopt it before the
        stale window. After a rate limit this process leaves the channel's claims alone until
        the `Retry-After` is over (`blocked`).
        """
        if why.retry_after is not None:
            now = time.monotonic()
            if len(self._blocked) > _BLOCKED_PRUNE_AT:
                self._blocked = {k: t for k, t in self._blocked.items() if t > now}
            self._blocked[(key.team_id, key.channel_id)] = now + why.retry_after
        if original is not None:
            await self._batcher.run(
                lambda session: DeliveryLedger(session).hand_back(
                    key.ledger_key, owner=self._owner, claimed_at=original
                )
            )
        log.warning(
            "cannot read the Slack history of %s/%s yet (%s); delivery %s keeps its claim and "
            "is recovered in %.0fs or later, never posted blindly",
            key.team_id,
            key.channel_id,
            why,
            key.label,
            why.retry_after or self._stale_after.total_seconds(),
            extra={"team": key.team_id, "channel": key.channel_id},
        )
        return DeliveryResult(Outcome.UNKNOWN, error=str(why))


def _is_rate_limited(exc: SlackApiError) -> bool:
    return status_of(exc) == 429 or error_code(exc) in ("ratelimited", "rate_limited")
