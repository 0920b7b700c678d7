"""What one delivery is (its ledger key, its result) and how posts to one channel are spaced.

Every message the workers post carries its `DeliveryKey` in Slack message metadata, so a post
whose outcome is unknown can be found in the channel's history again (`bot.slack.readback`).
`ChannelPacer` spaces posts to one channel. The notifier (`bot.slack.notifier`) puts these
together; its docstring tells the whole order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.services.announcements import Outcome
from bot.slack.messages import Message
from storage.repositories.deliveries import LedgerKey, Subject

DELIVERY_EVENT_TYPE = "skyvia_delivery"
"""Slack message metadata `event_type` of every message the workers post."""

_PACER_PRUNE_AT = 10_000


@dataclass(frozen=True)
class DeliveryKey:
    """The ledger's unique key of one message."""

    team_id: str
    channel_id: str
    snapshot_id: int
    kind: str
    subject: Subject | None = field(default=None, compare=False)
    """The backup an alert is about, recorded with the claim; not part of the key."""

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
        return self.outcome.delivered

    @property
    def settled(self) -> bool:
        """Nothing left to try: delivered, or never deliverable (paused channel, given up)."""
        return self.outcome.settled


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


@dataclass(frozen=True)
class Attempt:
    """One message to post for one key, as `deliver` was asked."""

    key: DeliveryKey
    message: Message
    thread_ts: str | None
    broadcast: bool

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"channel": self.key.channel_id, "metadata": self.key.metadata()}
        if self.thread_ts is not None:
            extra["thread_ts"] = self.thread_ts
            if self.broadcast:
                extra["reply_broadcast"] = True
        return self.message.kwargs(**extra)
