"""A binding whose Skyvia token is unusable: tell the channel once, then pause it.

Watching, alerting and backup discovery all meet a binding's token (polling a snapshot, listing
failures or backups) and all end here, so the binding is reported once whichever saw it first,
and a fault in one binding stops that binding alone, never the scan of its workspace.

Two faults: Skyvia rejects the token (revoked, expired), or the stored token does not decrypt
(the encryption key was changed without re-encrypting). A rejected token's notice comes before
the pause on purpose. A paused binding is no longer scanned or polled, so nothing would retry a
notice that failed after the pause; the other way round, a notice delivered but not followed by
the pause (crash) only means the next scan meets the rejected token again, finds the notice
already sent, and pauses. The notice is once per binding (its creation time names it): a
channel reconnected with a new token that later expires too is told again, once. A token that
does not decrypt is an operator's matter: the binding is paused with the reason (shown by
`status`) and one warning is logged, with the team and channel ids only.
"""

from __future__ import annotations

from datetime import datetime

from bot.services.announcements import Announcer, Channel, RejectedToken
from bot.services.channel_pauses import (
    OWN_TOKEN_REJECTED_REASON,
    UNDECRYPTABLE_REASON,
    ChannelPauses,
    token_rejected_reason,
)
from bot.services.errors import NoDefaultToken
from bot.services.token_policy import TokenPolicy
from storage.crypto import TokenDecryptError
from storage.records import BindingRecord


class TokenChecks:
    def __init__(
        self, *, announcer: Announcer, token_policy: TokenPolicy, pauses: ChannelPauses
    ) -> None:
        self._announcer = announcer
        self._token_policy = token_policy
        self._pauses = pauses

    async def usable_token(self, binding: BindingRecord, now: datetime) -> str | None:
        """The binding's token in clear; None without one (no default token, or undecryptable).

        A token that does not decrypt pauses its binding (reported once) and the caller goes
        on with the next binding.
        """
        try:
            return self._token_policy.token_of(binding)
        except NoDefaultToken:
            return None
        except TokenDecryptError:
            await self.report_undecryptable(binding, now)
            return None

    async def report_undecryptable(self, binding: BindingRecord, now: datetime) -> None:
        """Pauses the binding with the reason; logged once (the pause happens once)."""
        await self._pause(binding, UNDECRYPTABLE_REASON, now)

    async def report_rejected(self, binding: BindingRecord, now: datetime) -> bool:
        """Tells the channel and pauses its binding; False if the notice must be retried later."""
        channel = Channel(binding.team_id, binding.channel_id)
        own = binding.token_ciphertext is not None
        rejected = RejectedToken(binding.workspace_id, binding.created_at, own_token=own)
        outcome = await self._announcer.owe(rejected, channel)
        if not outcome.settled:
            return False
        reason = OWN_TOKEN_REJECTED_REASON if own else token_rejected_reason(binding.workspace_id)
        await self._pause(binding, reason, now)
        return True

    async def _pause(self, binding: BindingRecord, reason: str, now: datetime) -> None:
        await self._pauses.pause_channel(binding.team_id, binding.channel_id, reason, now=now)
