"""Counts what reaches the Slack stand-in as it arrives, with the arrival time of each message.

Subscribing (instead of polling the stand-in's call list) stamps each message when the stand-in
stored it, so "time until the last reply" is not rounded up to a polling step.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.devtools.slack_standin import FakeSlack, MessagePosted, MessageUpdated


@dataclass
class SlackTally:
    """Per delivery key (channel, snapshot, kind) how many messages arrived, and when the last."""

    posted: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    updates: int = 0
    last_post_at: float = 0.0
    edits: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """How many `chat.update` calls left each (channel, ts, text): an edit repeated with the
    same text counts more than once (a header edit redone is a duplicate)."""
    last_edit_at: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    """Distinct keys per kind, kept as messages arrive: waiting polls `count` every 50 ms, and
    walking 100,000 keys each time starved the doubles served from the same event loop."""

    def count(self, kind: str) -> int:
        """How many distinct keys of `kind` arrived (a duplicate counts once)."""
        return self.kinds[kind]

    def distinct_edits(self) -> int:
        """How many distinct (channel, ts, text) edits arrived (a repeat counts once)."""
        return len(self.edits)

    def duplicates(self, kind: str | None = None) -> int:
        """Extra copies of a key, of every kind or of one."""
        return sum(n - 1 for key, n in self.posted.items() if n > 1 and kind in (None, key[2]))

    def reset(self) -> None:
        self.posted.clear()
        self.kinds.clear()
        self.updates = 0
        self.last_post_at = 0.0
        self.edits.clear()
        self.last_edit_at = 0.0


@contextlib.asynccontextmanager
async def tallying(slack: FakeSlack) -> AsyncIterator[SlackTally]:
    tally = SlackTally()
    queue = slack.subscribe()

    async def consume() -> None:
        while True:
            event = await queue.get()
            if isinstance(event, MessageUpdated):
                tally.updates += 1
                edited = event.message
                tally.edits[(edited.channel, edited.ts, edited.text)] += 1
                tally.last_edit_at = time.monotonic()
            elif isinstance(event, MessagePosted):
                payload = (event.message.metadata or {}).get("event_payload") or {}
                if "kind" in payload:
                    key = (event.message.channel, int(payload["snapshot_id"]), payload["kind"])
                    tally.posted[key] += 1
                    if tally.posted[key] == 1:
                        tally.kinds[key[2]] += 1
                    tally.last_post_at = time.monotonic()

    task = asyncio.create_task(consume())
    try:
        yield tally
    finally:
        slack.unsubscribe(queue)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
