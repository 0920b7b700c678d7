"""Channels bound with their own token hear a workspace only while Skyvia accepts that token.

A workspace's failures are listed once, with the first listening channel's token, and fanned
out to every listening channel. A channel bound with its *own* token whose token Skyvia has
since revoked would keep getting the workspace's alerts and logs through the other channel's
token. So before a channel with its own token (other than the one the listing used) is given a
failure, its token is checked with one cheap call (`GET /workspaces/{id}`), at most once per
`every` seconds (half the scan interval: once per round in which it is used). A rejection
tells the channel once and pauses its binding (`TokenChecks.report_rejected`); until an admin
reconnects, that channel hears nothing more. A check that cannot be made (Skyvia overloaded)
does not hold the alert back: only a rejection does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache

from bot.services.alerting.token_checks import TokenChecks
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaError, SkyviaNotFound
from storage.records import BindingRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Verdict:
    ciphertext: str
    accepted: bool
    at: float


class OwnTokenChecks:
    def __init__(
        self,
        *,
        skyvia: SkyviaClient,
        tokens: TokenChecks,
        every: float,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._skyvia = skyvia
        self._tokens = tokens
        self._every = every
        self._clock = clock
        self._verdicts: LRUCache[int, _Verdict] = LRUCache(maxsize=size)
        self._lock = asyncio.Lock()

    async def hearing(
        self, channels: Sequence[BindingRecord], used_token: str, now: datetime
    ) -> list[BindingRecord]:
        """The channels that may hear a failure listed with `used_token`."""
        kept: list[BindingRecord] = []
        for binding in channels:
            if binding.token_ciphertext is None or await self._accepted(binding, used_token, now):
                kept.append(binding)
        return kept

    async def _accepted(self, binding: BindingRecord, used_token: str, now: datetime) -> bool:
        ciphertext = binding.token_ciphertext
        assert ciphertext is not None
        async with self._lock:  # one check per binding, however many cursors ask at once
            verdict = self._verdicts.get(binding.id)
            if verdict is not None and verdict.ciphertext == ciphertext:
                if not verdict.accepted or self._clock() - verdict.at < self._every:
                    return verdict.accepted
            token = await self._tokens.usable_token(binding, now)
            if token is None:  # did not decrypt: paused and reported by `usable_token`
                return False
            if token == used_token:
                return True  # the listing itself just used it
            try:
                await self._skyvia.get_workspace(token, binding.workspace_id)
            except (SkyviaAuthError, SkyviaNotFound):
                self._verdicts[binding.id] = _Verdict(ciphertext, False, self._clock())
            except SkyviaError as exc:
                log.info(
                    "could not check the token of %s/%s (%s); not holding its alert back",
                    binding.team_id,
                    binding.channel_id,
                    type(exc).__name__,
                )
                return True
            else:
                self._verdicts[binding.id] = _Verdict(ciphertext, True, self._clock())
                return True
        await self._tokens.report_rejected(binding, now)
        return False
