"""What one delivery is (its ledger key, its result) and how to find it in Slack again.

Every message the workers post carries its `DeliveryKey` in Slack message metadata, so a
recoverer that does not know whether a crashed attempt posted can look for the key in the
channel's history (`find_posted`); when Slack will not let it read yet, it learns that
(`HistoryRateLimited`) instead of guessing. `ChannelPacer` spaces posts to one channel. The notifier
(`bot.slack.notifier`) puts these together; its docstring tells the whole order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.announcements import Outcome
from storage.repositories.deliveries import LedgerKey

DELIVERY_EVENT_TYPE = "skyvia_delivery"
"""Slack message metadata `event_type` of every message the workers post."""

_LOOKUP_SKEW_SECONDS = 120.0
"""Read Slack's history from this long before the claim: our clock and Slack's may differ."""
_LOOKUP_MAX_PAGES = 10
_PACER_PRUNE_AT = 10_000
_HISTORY_RETRY_AFTER = 60.0
"""Seconds to leave a channel's history alone after a 429 that named no `Retry-After`."""


@dataclass(frozen=True)
class DeliveryKey:
    """The ledger's unique key of one message."""

    team_id: str
    channel_id: str
    snapshot_id: int
    kind: str

    @property
    def ledger_key(self) -> LedgerKey:
        return (self.team_id, self.channel_id, self.snapshot_id, self.kind)

    @property
    def label(self) -> str:
        """The key as a string: in message metadata, and in logs."""
        return f"{self.team_id}/{self.channel_id}/{self.snapshot_id}/{self.kind}"

    def metadata(self) -> dict[str, Any]:
        return {
            "event_type": DELIVERY_EVENT_TYPE,
            "event_payload": {
                "key": self.label,
                "snapshot_id": self.snapshot_id,
                "kind": self.kind,
            },
        }


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    ts: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome in (Outcome.SENT, Outcome.ALREADY_SENT)


class ChannelPacer:
    """About one post per `spacing` seconds per channel, within this process."""

    def __init__(
        self, spacing: float = 1.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._spacing = spacing
        self._clock = clock
        self._next: dict[tuple[str, str], float] = {}

    def reserve(self, channel: tuple[str, str], max_wait: float) -> float | None:
        """Books the channel's next slot: seconds to wait for it, or None if over `max_wait`."""
        now = self._clock()
        slot = max(now, self._next.get(channel, now))
        wait = slot - now
        if wait > max_wait:
            return None
        self._next[channel] = slot + self._spacing
        if len(self._next) > _PACER_PRUNE_AT:
            self._next = {key: at for key, at in self._next.items() if at > now}
        return wait


class HistoryRateLimited(Exception):
    """Slack would not let us read the history yet (a 429, or no answer in time): whether the
    message is there is unknown, so nothing may be posted."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f}s")
        self.retry_after = retry_after


async def _find_in_history(
    client: AsyncWebClient,
    key: DeliveryKey,
    thread_ts: str | None,
    claimed_at: datetime,
    timeout: float,
) -> str | None:
    """The `ts` of the message carrying `key` in its metadata, posted since about `claimed_at`
    (in the thread `thread_ts`, or top-level), or None; reads at most `_LOOKUP_MAX_PAGES`."""
    args: dict[str, Any] = {
        "channel": key.channel_id,
        "oldest": f"{claimed_at.timestamp() - _LOOKUP_SKEW_SECONDS:.6f}",
        "include_all_metadata": True,
        "limit": 200,
    }
    cursor: str | None = None
    for _ in range(_LOOKUP_MAX_PAGES):
        async with asyncio.timeout(timeout):
            if thread_ts is not None:
                page = await client.conversations_replies(ts=thread_ts, cursor=cursor, **args)
            else:
                page = await client.conversations_history(cursor=cursor, **args)
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == DELIVERY_EVENT_TYPE
                and payload.get("key") == key.label
            ):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
    return None


async def find_posted(
    client: AsyncWebClient,
    key: DeliveryKey,
    thread_ts: str | None,
    claimed_at: datetime,
    timeout: float,
) -> str | None:
    """The `ts` of the message carrying `key`, or None; `HistoryRateLimited` when Slack will
    not let us read yet (a 429, or no answer in time: slack_sdk may still be waiting one out),
    since then whether the message is there is unknown."""
    try:
        return await _find_in_history(client, key, thread_ts, claimed_at, timeout)
    except TimeoutError as exc:
        raise HistoryRateLimited(_HISTORY_RETRY_AFTER) from exc
    except SlackApiError as exc:
        if _is_rate_limited(exc):
            raise HistoryRateLimited(_retry_after(exc)) from exc
        raise


def _is_rate_limited(exc: SlackApiError) -> bool:
    status = exc.response.status_code if exc.response is not None else 0
    return status == 429 or slack_error(exc) in ("ratelimited", "rate_limited")


def _retry_after(exc: SlackApiError) -> float:
    """Slack's `Retry-After` of a 429, in seconds (a minute when it named none)."""
    headers = (exc.response.headers if exc.response is not None else None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return _HISTORY_RETRY_AFTER


def slack_error(exc: SlackApiError) -> str:
    response = exc.response
    if response is None:
        return "error"
    try:
        return str(response.get("error") or "error")
    except Exception:
        return "error"
