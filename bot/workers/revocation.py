"""A binding whose Skyvia token was rejected: tell the channel once, then pause it.

Both workers meet a rejected token (the watcher polling a snapshot, the scanner listing
failures) and both end here, so the channel hears it once whichever saw it first.

The notice comes before the pause on purpose. A paused binding is no longer scanned or polled,
so nothing would retry a notice that failed after the pause; the other way round, a notice
delivered but not followed by the pause (crash) only means the next scan meets the rejected
token again, finds the notice already in the ledger, and pauses. The ledger key carries the
binding's creation time: a channel reconnected with a new token that later expires too is told
again, once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.slack.messages import alerts_paused_token_notice, token_rejected_reason
from bot.slack.notifier import DeliveryKey, Notifier, Outcome
from storage.batching import WriteBatcher
from storage.models import Binding, DeliveryKind
from storage.repositories import BindingRepository

log = logging.getLogger(__name__)


def revocation_key(binding: Binding) -> DeliveryKey:
    serial = int(binding.created_at.timestamp()) % 2**31
    return DeliveryKey(binding.team_id, binding.channel_id, serial, DeliveryKind.REVOKED)


async def report_rejected_token(
    notifier: Notifier, batcher: WriteBatcher, binding: Binding, now: datetime
) -> bool:
    """Tells the channel and pauses its binding; False if the notice must be retried later."""
    result = await notifier.deliver(
        revocation_key(binding), alerts_paused_token_notice(binding.workspace_id)
    )
    if not (result.delivered or result.outcome == Outcome.PAUSED):
        return False
    reason = token_rejected_reason(binding.workspace_id)
    paused = await batcher.run(
        lambda session: BindingRepository(session).pause(
            binding.team_id, binding.channel_id, reason, now
        )
    )
    if paused:
        log.warning(
            "binding %s/%s paused: Skyvia rejected the token of workspace %s",
            binding.team_id,
            binding.channel_id,
            binding.workspace_id,
        )
    return True
