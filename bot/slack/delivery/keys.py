"""What one delivery is (its ledger key, its result) and how posts to one channel are spaced.

Every message the workers post carries its `DeliveryKey` in Slack message metadata, so a post
whose outcome is unknown can be found in the channel's history again
(`bot.slack.delivery.readback`). `priority_of` ranks what the senders send first
(docs/reference/guarantees.md#delivery-at-slacks-pace). The notifier (`bot.slack.delivery.notifier`)
puts these together; its docstring tells the whole order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.services.announcements import Outcome
from bot.slack.messages import Message
from storage.models import DeliveryKind
from storage.repositories.deliveries import LedgerKey, Subject

DELIVERY_EVENT_TYPE = "skyvia_delivery"
"""Slack message metadata `event_type` of every message the workers post."""

REPLY, NOTE, EDIT = 0, 1, 2
"""Outbox priorities: replies and alerts first, then episode replies and notes, then edits."""

_FIRST = frozenset(
    {
        DeliveryKind.THREAD_REPLY,
        DeliveryKind.ALERT,
        DeliveryKind.CARD,
        DeliveryKind.STALE,
        DeliveryKind.GAVE_UP,
        DeliveryKind.VANISHED,
        DeliveryKind.REVOKED,
        DeliveryKind.STEP_DONE,
    }
)


def priority_of(kind: str, *, edit: bool = False) -> int:
    """How soon a message of `kind` goes: a person waits for a run's outcome or an alert."""
    if edit:
        return EDIT
    return REPLY if kind in _FIRST else NOTE


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


@dataclass(frozen=True)
class Attempt:
    """One message to post for one key, as `deliver` was asked."""

    key: DeliveryKey
    message: Message
    thread_ts: str | None
    broadcast: bool
    row_id: int | None = None
    """The outbox row a sender claimed for it, if any (its sent mark finds the row by id)."""

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"channel": self.key.channel_id, "metadata": self.key.metadata()}
        if self.thread_ts is not None:
            extra["thread_ts"] = self.thread_ts
            if self.broadcast:
                extra["reply_broadcast"] = True
        return self.message.kwargs(**extra)
