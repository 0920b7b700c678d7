"""Completing Workflow Builder steps: owed through the outbox, sent once with the step's token.

A run that a *Run Skyvia snapshot* step started completes that step when it ends
(docs/reference/commands.md#workflow-builder-steps). The completion is a message like any other
the workers owe: a row in the outbox under the ledger key (team, channel, snapshot,
`step_done`), written before the watch records its end, sent by a sender at the channel's pace
and marked sent, so it happens once across crashes, restarts and replicas.

What differs from a post:

- It is sent with the execution's own token (`bot_access_token` of the `function_executed`
  event, which Bolt hands the listener as `context.function_bot_access_token`): Slack accepts
  `functions.completeSuccess`/`completeError` only with it. The token is kept encrypted like every
  token (on the watch, and in the row's call); it is decrypted only here, to send.
- The card's permalink (an output, and where an overrun step's error says to follow the run) is
  looked up when sending, with the bot's token: the card may have been posted after the run
  started (by the watcher), so only the sender knows it for sure.
- Completing twice is refused by Slack (the token dies with the first completion), so a
  completion whose answer was lost is simply sent again: if the first had landed, the second is
  refused and the row given up, which is what "once" needs. A refusal never pauses the channel:
  it concerns this execution alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.services.announcements import Outcome, StepEnd
from bot.services.models import RunStep, WatchedRun
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.clients import SlackClients
from bot.slack.delivery.errors import error_code, retry_after_of, status_of
from bot.slack.delivery.keys import DeliveryKey, DeliveryResult, priority_of
from bot.slack.delivery.refusals import Refusals
from storage.batching import WriteBatcher
from storage.crypto import TokenCipher, TokenDecryptError
from storage.models import DeliveryStatus
from storage.repositories.outbox import Outbox, OutboxEntry, QueuedRow

log = logging.getLogger(__name__)

CARD_LINK = "{card}"
"""Stands in an error text for the card's permalink, filled in when the completion is sent."""


@dataclass(frozen=True)
class Completion:
    """How a step ends: `outputs` on success, else `error` (which may name `CARD_LINK`)."""

    execution_id: str
    token_ciphertext: str
    card_ts: str | None
    outputs: dict[str, Any] | None = None
    error: str | None = None

    def call(self) -> str:
        """The outbox row's call: `fn` tells the notifier it is a completion, not a post."""
        return json.dumps(
            {
                "fn": {
                    "x": self.execution_id,
                    "t": self.token_ciphertext,
                    "card": self.card_ts,
                    "out": self.outputs,
                    "err": self.error,
                }
            }
        )


@dataclass(frozen=True)
class Completed:
    """How one completion went, as the notifier passes it on to the sender."""

    result: DeliveryResult
    retry_after: float | None = None


MarkSent = Callable[[DeliveryKey, str | None], Awaitable[None]]


class StepCompleter:
    def __init__(
        self, *, slack: SlackClients, cipher: TokenCipher, batcher: WriteBatcher, owner: str
    ) -> None:
        self._slack = slack
        self._cipher = cipher
        self._batcher = batcher
        self._owner = owner

    async def owe(self, key: DeliveryKey, completion: Completion) -> Outcome:
        """Writes the completion's row unless its key has one; how it stands."""
        entry = OutboxEntry(key.ledger_key, priority_of(key.kind), completion.call())
        states = await self._batcher.run(
            lambda session: Outbox(session).enqueue_many([entry], owner=self._owner)
        )
        state = states[entry.key]
        if state.status == DeliveryStatus.SENT:
            return Outcome.ALREADY_SENT
        if state.status == DeliveryStatus.GAVE_UP:
            return Outcome.GAVE_UP
        return Outcome.QUEUED

    async def send(
        self, row: QueuedRow, call: dict[str, Any], *, refusals: Refusals, mark_sent: MarkSent
    ) -> Completed:
        """Completes the step of a claimed row (see module docstring)."""
        key = DeliveryKey(row.team_id, row.channel_id, row.snapshot_id, row.kind)
        fn = call["fn"]
        try:
            token = self._cipher.decrypt(str(fn["t"]))
        except TokenDecryptError:
            log.error("step %s: its token no longer decrypts; giving it up", fn["x"])
            return Completed(await refusals.give_up(key, "token_undecryptable"))
        link = await self._permalink(row, fn.get("card"))
        client = self._slack.for_token(token)
        try:
            if fn.get("err") is not None:
                error = str(fn["err"]).replace(CARD_LINK, link or "the channel")
                await client.functions_completeError(function_execution_id=fn["x"], error=error)
            else:
                outputs = {**(fn.get("out") or {}), "card_permalink": link or ""}
                await client.functions_completeSuccess(
                    function_execution_id=fn["x"], outputs=outputs
                )
        except SlackApiError as exc:
            code, status = error_code(exc), status_of(exc)
            if status == 429:
                wait = retry_after_of(exc)
                return Completed(await refusals.refused(key, code, retry_after=wait), wait)
            if status >= 500:
                return Completed(await refusals.retry(key, code, count=False))
            log.warning("Slack refused to complete step %s: %s", fn["x"], code)
            return Completed(await refusals.give_up(key, code))
        except Exception as exc:  # no answer: completing again is harmless (see module doc)
            return Completed(await refusals.retry(key, type(exc).__name__, count=False))
        finally:
            self._slack.evict(token)
        await mark_sent(key, None)
        return Completed(DeliveryResult(Outcome.SENT))

    async def _permalink(self, row: QueuedRow, card_ts: Any) -> str | None:
        """The card's link, or None: a missing link must never hold the completion back."""
        if not card_ts:
            return None
        try:
            client = await self._slack.for_team(row.team_id)
            answer = await client.chat_getPermalink(channel=row.channel_id, message_ts=card_ts)
        except Exception as exc:
            log.warning("no permalink for the card %s: %s", card_ts, type(exc).__name__)
            return None
        link = answer.get("permalink")
        return link if isinstance(link, str) else None


def _label(run: WatchedRun) -> str:
    name = run.backup_name or f"backup {run.backup_id}"
    return f"snapshot {run.snapshot_id} of {name} ({run.backup_id})"


def first_log_line(snapshot: Snapshot) -> str | None:
    """The first non-blank line of the run's log: what a failed step's error carries."""
    for line in (snapshot.log or "").splitlines():
        if line.strip():
            return line.strip()[:500]
    return None


def finished(run: WatchedRun, step: RunStep, snapshot: Snapshot) -> Completion:
    """A finished run's completion: its outputs when it succeeded, else its log's first line."""
    if snapshot.state == SnapshotState.SUCCEEDED:
        duration = snapshot.duration_seconds
        outputs = {
            "snapshot_id": run.snapshot_id,
            "state": snapshot.state.value,
            "rows": snapshot.success_rows or 0,
            "duration_seconds": round(duration) if duration is not None else 0,
        }
        return Completion(step.execution_id, step.token_ciphertext, run.message_ts, outputs)
    line = first_log_line(snapshot) or "no log"
    error = f"{_label(run).capitalize()} {snapshot.state.value.lower()}: {line}"
    return Completion(step.execution_id, step.token_ciphertext, run.message_ts, error=error)


_ENDED = {
    StepEnd.OUTLIVED: "is still running, longer than a workflow step may wait; follow it on "
    f"its card: {CARD_LINK}",
    StepEnd.GAVE_UP: f"ran too long and is no longer watched; see its card: {CARD_LINK}",
    StepEnd.VANISHED: "is no longer known to Skyvia, so its outcome is unknown",
    StepEnd.STOPPED: "is no longer followed: its channel was disconnected or cannot be posted to",
}


def ended(run: WatchedRun, step: RunStep, why: StepEnd) -> Completion:
    """The completion of a step whose run is not followed to its end: an error saying why."""
    error = f"{_label(run).capitalize()} {_ENDED[why]}"
    return Completion(step.execution_id, step.token_ciphertext, run.message_ts, error=error)
