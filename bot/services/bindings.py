"""Channel bindings: which Skyvia workspace (and token) a Slack channel acts on, from `connect`
to `disconnect`.

Every use case asks `resolve()` for the channel the request came from, so a click or command
can never reach another channel's workspace, whatever ids a button carries. Which token a
binding acts with is the token policy's (`bot.services.token_policy`); what its alerts do, the
alert settings' (`bot.services.alert_settings`). A binding's read model is built from its row
here (`channel_binding`), the one place its columns are read, for `status`, App Home and the
snapshots' lists alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services.audit import Actor, Entry, record, record_in
from bot.services.channel_pauses import reconnect_lifts
from bot.services.errors import NotBound, TokenRejected, WorkspaceNotFound
from bot.services.models import BackupLimits, ChannelBinding, WatchedRun
from bot.services.token_policy import TokenPolicy
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound
from bot.skyvia.models import Workspace
from storage.db import Database
from storage.records import BindingRecord
from storage.repositories import (
    BindingRepository,
    StalenessRepository,
    StaleSetting,
    WatchRepository,
)
from storage.repositories.outbox import Outbox

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
    binding: ChannelBinding | None
    watches: list[WatchedRun]
    queued: int = 0
    """Messages owed to the channel still waiting in the outbox (Slack's pace)."""
    queued_since: datetime | None = None
    """When the oldest of them was owed."""


@dataclass(frozen=True)
class Disconnected:
    """The binding is gone; `ended` are the watches it stopped, whose cards still need a word."""

    workspace_id: int
    ended: list[WatchedRun] = field(default_factory=list)
    workspace_name: str | None = None

    @property
    def stopped_watches(self) -> int:
        return len(self.ended)


class BindingService:
    def __init__(
        self,
        *,
        db: Database,
        skyvia: SkyviaClient,
        token_policy: TokenPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._skyvia = skyvia
        self._token_policy = token_policy
        self._clock = clock

    def bound(self, binding: BindingRecord) -> BoundWorkspace:
        return BoundWorkspace(
            team_id=binding.team_id,
            channel_id=binding.channel_id,
            workspace_id=binding.workspace_id,
            workspace_name=binding.workspace_name,
            alerts_enabled=binding.alerts_enabled,
            paused_reason=binding.paused_reason,
            token=self._token_policy.token_of(binding),
        )

    async def resolve(self, team_id: str, channel_id: str) -> BoundWorkspace:
        """The channel's workspace and token; raises NotBound for an unbound channel."""
        async with self._db.session() as session:
            binding = await BindingRepository(session).get(team_id, channel_id)
        if binding is None:
            raise NotBound()
        return self.bound(binding)

    async def enterprise_of(self, team_id: str) -> str | None:
        """The team's Enterprise Grid org as its bindings recorded it (None outside Grid)."""
        async with self._db.session() as session:
            return await BindingRepository(session).enterprise_of(team_id)

    async def connect(
        self,
        *,
        team_id: str,
        channel_id: str,
        workspace_id: int,
        token: str | None,
        user_id: str,
        enterprise_id: str | None = None,
        reached: Workspace | None = None,
    ) -> ChannelBinding:
        """Checks the token with one call (`reached`: done already), saves it encrypted."""
        actor = Actor(team_id, channel_id, user_id)
        workspace = reached or await self.reach(actor, workspace_id, token)
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            row = await bindings.upsert(
                team_id=team_id,
                channel_id=channel_id,
                workspace_id=workspace_id,
                workspace_name=workspace.name,
                token_ciphertext=self._token_policy.seal(token) if token else None,
                created_by=user_id,
                now=self._clock(),
                enterprise_id=enterprise_id,
            )
            detail = "own token" if token else "default token"
            entry = Entry("connect", f"workspace {workspace_id}", "ok", detail)
            await record_in(session, actor, entry)
            binding = channel_binding(row, await bindings.muted_backup_ids(row.id))
        log.info(
            "channel bound",
            extra={"team": team_id, "channel": channel_id, "workspace": workspace_id},
        )
        return binding

    async def reach(self, actor: Actor, workspace_id: int, token: str | None) -> Workspace:
        """The workspace through the token `connect` would use; a refusal is audited and raised
        as `TokenRejected`/`WorkspaceNotFound`, for the connect form to show on its field."""
        try:
            effective = token or self._token_policy.default_for(actor.team_id)
            return await self._skyvia.get_workspace(effective, workspace_id)
        except (SkyviaAuthError, SkyviaNotFound) as error:
            found = isinstance(error, SkyviaAuthError)
            refused = TokenRejected(workspace_id) if found else WorkspaceNotFound(workspace_id)
            entry = Entry("connect", f"workspace {workspace_id}", refused.outcome)
            await record(self._db, actor, entry)
            raise refused from None

    async def disconnect(self, *, team_id: str, channel_id: str, user_id: str) -> Disconnected:
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding = await bindings.get(team_id, channel_id)
            if binding is None:
                raise NotBound()
            workspace_id, workspace_name = binding.workspace_id, binding.workspace_name
            ended = await self._stop_watches(session, team_id, channel_id)
            await bindings.delete(team_id, channel_id)
            stopped = f"{len(ended)} watches stopped"
            entry = Entry("disconnect", f"workspace {workspace_id}", "ok", stopped)
            await record_in(session, Actor(team_id, channel_id, user_id), entry)
        return Disconnected(workspace_id, ended, workspace_name)

    async def stop_watches(self, team_id: str, channel_id: str) -> list[WatchedRun]:
        """Stops the channel's pending watches (its workspace changed); returns what stopped."""
        async with self._db.session() as session:
            return await self._stop_watches(session, team_id, channel_id)

    @staticmethod
    async def _stop_watches(
        session: AsyncSession, team_id: str, channel_id: str
    ) -> list[WatchedRun]:
        """Reads the pending watches, then stops them, so their cards can be ended after."""
        watches = WatchRepository(session)
        pending = [WatchedRun.of(w) for w in await watches.pending_for_channel(team_id, channel_id)]
        await watches.stop_for_channel(team_id, channel_id)
        return pending

    async def status(self, team_id: str, channel_id: str) -> ChannelStatus:
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            row = await bindings.get(team_id, channel_id)
            if row is None:
                return ChannelStatus(binding=None, watches=[])
            muted = await bindings.muted_backup_ids(row.id)
            settings = by_binding(await StalenessRepository(session).for_bindings([row.id]))
            watches = await WatchRepository(session).pending_for_channel(team_id, channel_id)
            backlog = await Outbox(session).depth(team_id, channel_id)
            oldest = [d.oldest for d in backlog if d.oldest is not None]
            return ChannelStatus(
                binding=channel_binding(row, muted, settings.get(row.id)),
                watches=[WatchedRun.of(w) for w in watches],
                queued=sum(d.count for d in backlog),
                queued_since=min(oldest, default=None),
            )


# -- a binding's read model, from its row ----------------------------------------------------
def channel_binding(
    row: BindingRecord,
    muted_backup_ids: Iterable[int] = (),
    settings: Mapping[int, StaleSetting] | None = None,
) -> ChannelBinding:
    """`settings`: the binding's stale and overdue settings by backup (`by_binding` groups
    what `StalenessRepository.for_bindings` reads); those set by hand become its `limits`."""
    return ChannelBinding(
        channel_id=row.channel_id,
        workspace_id=row.workspace_id,
        connected_by=row.created_by,
        connected_at=row.created_at,
        workspace_name=row.workspace_name,
        alerts_enabled=row.alerts_enabled,
        muted_backup_ids=tuple(sorted(muted_backup_ids)),
        paused=row.paused_reason is not None,
        paused_reason=row.paused_reason,
        reconnect=reconnect_lifts(row.paused_reason),
        uses_default_token=row.token_ciphertext is None,
        mention_ids=row.mention_ids,
        limits=_custom_limits(settings or {}),
    )


def _custom_limits(settings: Mapping[int, StaleSetting]) -> tuple[BackupLimits, ...]:
    """The limits set by hand, by backup id; `auto` ones (and rows that only hold a stale
    episode) are left out."""
    found = (
        BackupLimits(
            backup_id=backup_id,
            stale_seconds=setting.limit_seconds,
            stale_off=setting.disabled,
            overdue_seconds=setting.overdue_seconds,
            overdue_off=setting.overdue_disabled,
        )
        for backup_id, setting in sorted(settings.items())
    )
    return tuple(limits for limits in found if limits.custom)


def by_binding(
    settings: Mapping[tuple[int, int], StaleSetting],
) -> dict[int, dict[int, StaleSetting]]:
    """`StalenessRepository.for_bindings`'s rows grouped by binding, then by backup."""
    grouped: dict[int, dict[int, StaleSetting]] = {}
    for (binding_id, backup_id), setting in settings.items():
        grouped.setdefault(binding_id, {})[backup_id] = setting
    return grouped
