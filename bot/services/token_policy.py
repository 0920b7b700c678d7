"""Token policy: which Skyvia token a binding acts with, and the ones that will not serve.

This is the only place a channel's token is sealed or opened. A binding keeps its own token
encrypted, or none: then it acts with the bot's default token, and only in the Slack teams that
token serves (SKYVIA_BOT_DEFAULT_TOKEN_TEAMS; a stranger's workspace must never reach the
operator's Skyvia account). Bindings the default token stops serving are paused at start-up, and
an operator hears of tokens that no longer decrypt (a botched key rotation) before a worker
meets them.
"""

from __future__ import annotations

from pydantic import SecretStr

from bot.services.channel_pauses import ChannelPauses
from bot.services.errors import DefaultTokenRefused, NoDefaultToken
from storage.crypto import TokenCipher, TokenDecryptError
from storage.db import Database
from storage.records import BindingRecord
from storage.repositories import BindingRepository


async def undecryptable_bindings(db: Database, cipher: TokenCipher) -> list[tuple[str, str]]:
    """(team, channel) of every binding whose stored token does not decrypt with `cipher`.

    For `skyvia-bot check` and start-up: a worker pauses such a binding when it meets it, but an
    operator should hear of a botched key rotation before that. Ids only, never the ciphertext.
    """
    async with db.session() as session:
        bindings = await BindingRepository(session).list_with_own_token()
    broken: list[tuple[str, str]] = []
    for binding in bindings:
        try:
            cipher.decrypt(binding.token_ciphertext or "")
        except TokenDecryptError:
            broken.append((binding.team_id, binding.channel_id))
    return broken


class TokenPolicy:
    def __init__(
        self,
        *,
        db: Database,
        cipher: TokenCipher,
        pauses: ChannelPauses,
        default_token: SecretStr | None,
        default_token_teams: frozenset[str] | None = None,
    ) -> None:
        """`default_token_teams`: the Slack teams the default token serves; None means all."""
        self._db = db
        self._cipher = cipher
        self._pauses = pauses
        self._default_token = default_token
        self._default_teams = default_token_teams

    @property
    def has_default_token(self) -> bool:
        return self._default_token is not None

    def default_token_serves(self, team_id: str) -> bool:
        """True when a binding of `team_id` may act with the bot's default Skyvia token."""
        if self._default_token is None:
            return False
        return self._default_teams is None or team_id in self._default_teams

    def default_for(self, team_id: str) -> str:
        """The default token for a binding of `team_id`; raises `NoDefaultToken` without one,
        `DefaultTokenRefused` when it does not serve that team."""
        if self._default_token is None:
            raise NoDefaultToken()
        if not self.default_token_serves(team_id):
            raise DefaultTokenRefused()
        return self._default_token.get_secret_value()

    def seal(self, token: str) -> str:
        """A token as a binding stores it: encrypted."""
        return self._cipher.encrypt(token)

    def token_of(self, binding: BindingRecord) -> str:
        """The binding's own token, else the default one if it serves the binding's team."""
        return self.token_for(binding.team_id, binding.token_ciphertext)

    def token_for(self, team_id: str, sealed: str | None) -> str:
        """A token kept encrypted as `sealed` (a binding's, or a maintenance window's copy of
        it, which outlives the binding); None: the default token, if it serves `team_id`."""
        return self._cipher.decrypt(sealed) if sealed else self.default_for(team_id)

    async def pause_refused_defaults(self) -> int:
        """Pauses bindings on the default token whose team it no longer serves (at start-up).

        A binding made before SKYVIA_BOT_DEFAULT_TOKEN_TEAMS changed would otherwise sit
        silent; paused, `status` says why and what to do. Idempotent, so every replica may run it.
        """
        if self._default_teams is None:
            return 0
        return await self._pauses.pause_default_token_bindings(self._default_teams)

    async def undecryptable(self) -> list[tuple[str, str]]:
        """(team, channel) of every binding whose stored token does not decrypt."""
        return await undecryptable_bindings(self._db, self._cipher)
