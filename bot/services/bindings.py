"""Channel bindings: which Skyvia workspace (and token) a Slack channel acts on.

This is the only place a channel's token is decrypted. Every use case asks `resolve()` for the
channel the request came from, so a click or command can never reach another channel's
workspace, whatever ids a button carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr

from bot.clock import utcnow
from bot.services.errors import DomainError, NoDefaultToken, NotBound
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound
from storage.crypto import TokenCipher
from storage.db import Database
from storage.models import Binding, Watch
from storage.repositories import AuditRepository, BindingRepository, WatchRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoundWorkspace:
    """What a use case needs to act for a channel; the token never shows in a repr."""

    team_id: str
    channel_id: str
    workspace_id: int
    workspace_name: str | None
    alerts_enabled: bool
    paused_reason: str | None
    token: str = field(repr=False)


@dataclass(frozen=True)
class ChannelStatus:
    binding: Binding | None
    muted_backup_ids: list[int]
    watches: list[Watch]


@dataclass(frozen=True)
class Disconnected:
    workspace_id: int
    stopped_watches: int


class BindingService:
    def __init__(
        self,
        *,
        db: Database,
        cipher: TokenCipher,
        skyvia: SkyviaClient,
        default_token: SecretStr | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._skyvia = skyvia
        self._default_token = default_token
        self._clock = clock

    @property
    def has_default_token(self) -> bool:
        return self._default_token is not None

    def token_of(self, binding: Binding) -> str:
        if binding.token_ciphertext:
            return self._cipher.decrypt(binding.token_ciphertext)
        if self._default_token is None:
            raise NoDefaultToken()
        return self._default_token.get_secret_value()

    def bound(self, binding: Binding) -> BoundWorkspace:
        return BoundWorkspace(
            team_id=binding.team_id,
            channel_id=binding.channel_id,
            workspace_id=binding.workspace_id,
            workspace_name=binding.workspace_name,
            alerts_enabled=binding.alerts_enabled,
            paused_reason=binding.paused_reason,
            token=self.token_of(binding),
        )

    async def resolve(self, team_id: str, channel_id: str) -> BoundWorkspace:
        """The channel's workspace and token; raises NotBound for an unbound channel."""
        async with self._db.session() as session:
            binding = await BindingRepository(session).get(team_id, channel_id)
        if binding is None:
            raise NotBound()
        return self.bound(binding)

    async def connect(
        self,
        *,
        team_id: str,
        channel_id: str,
        workspace_id: int,
        token: str | None,
        user_id: str,
    ) -> Binding:
        """Checks the token with one cheap call, then saves the binding (encrypted token)."""
        effective = token or (
            self._default_token.get_secret_value() if self._default_token else None
        )
        if effective is None:
            raise NoDefaultToken()
        try:
            workspace = await self._skyvia.get_workspace(effective, workspace_id)
        except SkyviaAuthError:
            await self._audit(
                team_id,
                channel_id,
                user_id,
                "connect",
                f"workspace {workspace_id}",
                "rejected token",
            )
            raise DomainError(
                f"Skyvia rejected the access token for workspace {workspace_id}.",
                "Check the token (Skyvia → Account Settings → API Settings) and that it covers "
                "this workspace, then run `/skyvia connect` again.",
            ) from None
        except SkyviaNotFound:
            await self._audit(
                team_id, channel_id, user_id, "connect", f"workspace {workspace_id}", "not found"
            )
            raise DomainError(
                f"Workspace {workspace_id} was not found in Skyvia.",
                "Check the id in the Skyvia URL of the workspace and run `/skyvia connect` again.",
            ) from None
        now = self._clock()
        async with self._db.session() as session:
            binding = await BindingRepository(session).upsert(
                team_id=team_id,
                channel_id=channel_id,
                workspace_id=workspace_id,
                workspace_name=workspace.name,
                token_ciphertext=self._cipher.encrypt(token) if token else None,
                created_by=user_id,
                now=now,
            )
            await AuditRepository(session).add(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                action="connect",
                target=f"workspace {workspace_id}",
                result="ok",
                detail="own token" if token else "default token",
            )
        log.info(
            "channel bound",
            extra={"team": team_id, "channel": channel_id, "workspace": workspace_id},
        )
        return binding

    async def disconnect(self, *, team_id: str, channel_id: str, user_id: str) -> Disconnected:
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding = await bindings.get(team_id, channel_id)
            if binding is None:
                raise NotBound()
            workspace_id = binding.workspace_id
            stopped = await WatchRepository(session).stop_for_channel(team_id, channel_id)
            await bindings.delete(team_id, channel_id)
            await AuditRepository(session).add(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                action="disconnect",
                target=f"workspace {workspace_id}",
                result="ok",
                detail=f"{stopped} watches stopped",
            )
        return Disconnected(workspace_id=workspace_id, stopped_watches=stopped)

    async def status(self, team_id: str, channel_id: str) -> ChannelStatus:
        async with self._db.session() as session:
            binding = await BindingRepository(session).get(team_id, channel_id)
            if binding is None:
                return ChannelStatus(binding=None, muted_backup_ids=[], watches=[])
            muted = await BindingRepository(session).muted_backup_ids(binding.id)
            watches = await WatchRepository(session).pending_for_channel(team_id, channel_id)
        return ChannelStatus(binding=binding, muted_backup_ids=sorted(muted), watches=list(watches))

    async def set_alerts(
        self, *, team_id: str, channel_id: str, user_id: str, enabled: bool
    ) -> None:
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            if await bindings.get(team_id, channel_id) is None:
                raise NotBound()
            await bindings.set_alerts(team_id, channel_id, enabled, now=self._clock())
            await AuditRepository(session).add(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                action="alerts on" if enabled else "alerts off",
                target="channel",
                result="ok",
            )

    async def set_mute(
        self, *, team_id: str, channel_id: str, user_id: str, backup_id: int, mute: bool
    ) -> bool:
        """Returns False when nothing changed (already muted / not muted)."""
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding = await bindings.get(team_id, channel_id)
            if binding is None:
                raise NotBound()
            muted = set(await bindings.muted_backup_ids(binding.id))
            changed = (backup_id not in muted) if mute else (backup_id in muted)
            if changed and mute:
                await bindings.mute(binding.id, backup_id, muted_by=user_id, now=self._clock())
            elif changed:
                await bindings.unmute(binding.id, backup_id)
            await AuditRepository(session).add(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                action="mute" if mute else "unmute",
                target=f"backup {backup_id}",
                result="ok" if changed else "unchanged",
            )
        return changed

    async def _audit(
        self, team_id: str, channel_id: str, user_id: str, action: str, target: str, result: str
    ) -> None:
        async with self._db.session() as session:
            await AuditRepository(session).add(
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                action=action,
                target=target,
                result=result,
            )
