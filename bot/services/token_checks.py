"""A binding whose Skyvia token was rejected: tell the channel once, then pause it.

Both watching and alerting meet a rejected token (polling a snapshot, listing failures) and
both end here, so the channel hears it once whichever saw it first.

The notice comes before the pause on purpose. A paused binding is no longer scanned or polled,
so nothing would retry a notice that failed after the pause; the other way round, a notice
delivered but not followed by the pause (crash) only means the next scan meets the rejected
token again, finds the notice already sent, and pauses. The notice is once per binding (its
creation time names it): a channel reconnected with a new token that later expires too is told
again, once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.services.announcements import Announcer, Channel
from storage.batching import WriteBatcher
from storage.models import Binding
from storage.repositories import BindingRepository

log = logging.getLogger(__name__)


def token_rejected_reason(workspace_id: int) -> str:
    """The plain-words pause reason stored on the binding and shown by `status`."""
    return (
        f"Skyvia rejected the access token of workspace {workspace_id}; "
        "an admin can reconnect with `/skyvia connect`"
    )


class TokenChecks:
    def __init__(self, *, announcer: Announcer, batcher: WriteBatcher) -> None:
        self._announcer = announcer
        self._batcher = batcher

    async def report_rejected(self, binding: Binding, now: datetime) -> bool:
        """Tells the channel and pauses its binding; False if the notice must be retried later."""
        channel = Channel(binding.team_id, binding.channel_id)
        outcome = await self._announcer.token_rejected(
            channel, binding.workspace_id, binding.created_at
        )
        if not outcome.settled:
            return False
        reason = token_rejected_reason(binding.workspace_id)
        paused = await self._batcher.run(
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
