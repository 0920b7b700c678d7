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
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services.audit import Actor, Entry, record, record_in
from bot.services.channel_pauses import ChannelPauses
from bot.services.errors import (
    DefaultTokenRefused,
    NoDefaultToken,
    NotBound,
    TokenRejected,
    WorkspaceNotFound,
)
from bot.services.from_rows import by_binding, channel_binding, watched_run
from bot.services.models import ChannelBinding, WatchedRun
from bot.skyvia.client import SkyviaClient
from bot.skyvia.errors import SkyviaAuthError, SkyviaNotFound
from bot.skyvia.models import Backup, Workspace
from storage.crypto import TokenCipher, TokenDecryptError
from storage.db import Database
from storage.models import Binding, DeliveryKind
from storage.repositories import (
    AlertCursorRepository,
    BindingRepository,
    DeliveryLedger,
    StalenessRepository,
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


@dataclass(frozen=True)
class MuteChanged:
    """The backup's alerts in this channel are now `muted` (they were not before)."""

    backup: Backup
    muted: bool


@dataclass(frozen=True)
class MuteUnchanged:
    """The backup's alerts already were as asked; nothing was written and Skyvia not asked."""

    backup_id: int
    muted: bool


MuteResult = MuteChanged | MuteUnchanged


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


class BindingService:
    def __init__(
        self,
        *,
        db: Database,
        cipher: TokenCipher,
        skyvia: SkyviaClient,
        default_token: SecretStr | None,
        pauses: ChannelPauses,
        default_token_teams: frozenset[str] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`default_token_teams`: the Slack teams the default token serves; None means all."""
        self._db = db
        self._pauses = pauses
        self._cipher = cipher
        self._skyvia = skyvia
        self._default_token = default_token
        self._default_teams = default_token_teams
        self._clock = clock

    @property
    def has_default_token(self) -> bool:
        return self._default_token is not None

    def default_token_serves(self, team_id: str) -> bool:
        """True when a binding of `team_id` may act with the bot's default Skyvia token."""
        if self._default_token is None:
            return False
        return self._default_teams is None or team_id in self._default_teams

    def _default_for(self, team_id: str) -> str:
        if self._default_token is None:
            raise NoDefaultToken()
        if not self.default_token_serves(team_id):
            raise DefaultTokenRefused()
        return self._default_token.get_secret_value()

    def token_of(self, binding: Binding) -> str:
        """The binding's own token, else the default one if it serves the binding's team."""
        return self.token_for(binding.team_id, binding.token_ciphertext)

    def token_for(self, team_id: str, sealed: str | None) -> str:
        """A token kept encrypted as `sealed` (a binding's, or a maintenance window's copy of
        it, which outlives the binding); None: the default token, if it serves `team_id`."""
        return self._cipher.decrypt(sealed) if sealed else self._default_for(team_id)

    async def pause_refused_defaults(self) -> int:
        """Pauses bindings on the default token whose team it no longer serves (at start-up).

        A binding made before SKYVIA_BOT_DEFAULT_TOKEN_TEAMS changed would otherwise sit
        silent; paused, `status` says why and what to do. Idempotent, so every replica may run it.
        """
        if self._default_teams is None:
            return 0
        return await self._pauses.pause_default_token_bindings(self._default_teams)

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

    async def undecryptable(self) -> list[tuple[str, str]]:
        """(team, channel) of every binding whose stored token does not decrypt."""
        return await undecryptable_bindings(self._db, self._cipher)

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
                token_ciphertext=self._cipher.encrypt(token) if token else None,
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
            effective = token or self._default_for(actor.team_id)
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
        pending = [watched_run(w) for w in await watches.pending_for_channel(team_id, channel_id)]
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
                watches=[watched_run(w) for w in watches],
                queued=sum(d.count for d in backlog),
                queued_since=min(oldest, default=None),
            )

    async def set_alerts(
        self, *, team_id: str, channel_id: str, user_id: str, enabled: bool
    ) -> bool:
        """Turns the channel's alerts on or off; False when they already were (nothing written).

        A repeat must not move `alerts_since` either: `alerts on` twice would otherwise silence
        failures that ended between the two.
        """
        action = "alerts on" if enabled else "alerts off"
        actor = Actor(team_id, channel_id, user_id)
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            row = await bindings.get(team_id, channel_id)
            if row is None:
                raise NotBound()
            if row.alerts_enabled == enabled:
                await record_in(session, actor, Entry(action, "channel", "unchanged"))
                return False
            await bindings.set_alerts(team_id, channel_id, enabled, now=self._clock())
            await record_in(session, actor, Entry(action, "channel", "ok"))
        return True

    async def mute(
        self, bound: BoundWorkspace, backup_id: int, *, user_id: str, mute: bool
    ) -> MuteResult:
        """Mutes (or unmutes) a backup's failure alerts in the bound channel.

        A repeat changes nothing and asks Skyvia nothing. A real change first checks that the
        backup exists in the channel's workspace (an unknown id fails as "not found"), so a
        typo cannot leave a mute that silences nothing. Every attempt is audited.
        """
        actor = Actor(bound.team_id, bound.channel_id, user_id)
        action, target = ("mute" if mute else "unmute"), f"backup {backup_id}"
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding_id = await self._binding_id(bindings, bound)
            already = (backup_id in await bindings.muted_backup_ids(binding_id)) == mute
            if already:
                await record_in(session, actor, Entry(action, target, "unchanged"))
        if already:
            return MuteUnchanged(backup_id=backup_id, muted=mute)
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding_id = await self._binding_id(bindings, bound)
            if mute:
                changed = await bindings.mute(
                    binding_id, backup_id, muted_by=user_id, now=self._clock()
                )
            else:
                changed = await bindings.unmute(binding_id, backup_id, now=self._clock())
            await record_in(session, actor, Entry(action, target, "ok" if changed else "unchanged"))
        if not changed:  # a concurrent request did it first
            return MuteUnchanged(backup_id=backup_id, muted=mute)
        return MuteChanged(backup=backup, muted=mute)

    async def unmute_quietly(self, bound: BoundWorkspace, backup_id: int) -> bool:
        """A timed mute's end: the mute goes without asking Skyvia (the backup was checked when
        it was muted, and a deleted backup's mute should end all the same). Audited as the
        mute's own end; a repeat (a retried end) changes nothing and returns False.
        """
        actor = Actor(bound.team_id, bound.channel_id, "timer")
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding_id = await self._binding_id(bindings, bound)
            changed = await bindings.unmute(binding_id, backup_id, now=self._clock())
            if changed:
                await record_in(session, actor, Entry("mute ended", f"backup {backup_id}", "ok"))
        return changed

    async def set_stale(
        self,
        bound: BoundWorkspace,
        backup_id: int,
        *,
        user_id: str,
        limit_seconds: int | None,
        off: bool,
        overdue: bool = False,
    ) -> Backup:
        """Sets the channel's stale limit for a backup (None and not `off`: learned, `auto`);
        with `overdue`, how long its run may take instead (`alerts overdue`).

        The backup is looked up first, so a typo cannot leave a limit that watches nothing.
        """
        backup = await self._skyvia.get_backup(bound.token, bound.workspace_id, backup_id)
        setting = "off" if off else ("auto" if limit_seconds is None else f"{limit_seconds}s")
        async with self._db.session() as session:
            binding_id = await self._binding_id(BindingRepository(session), bound)
            repo = StalenessRepository(session)
            set_limit = repo.set_overdue if overdue else repo.set_limit
            await set_limit(binding_id, backup_id, limit_seconds, disabled=off)
            # The new limit is checked against a fresh read of the runs at the next scan.
            await AlertCursorRepository(session).forget_runs(bound.workspace_id, backup_id)
            await record_in(
                session,
                Actor(bound.team_id, bound.channel_id, user_id),
                Entry(
                    f"alerts {'overdue' if overdue else 'stale'} {setting}",
                    f"backup {backup_id}",
                    "ok",
                ),
            )
        return backup

    async def overdue_runs(self, bound: BoundWorkspace) -> dict[int, tuple[int, datetime]]:
        """The runs of the workspace still going that this channel was told take unusually
        long (`health`): (snapshot, running since) by backup."""
        async with self._db.session() as session:
            running = await AlertCursorRepository(session).running(bound.workspace_id)
            told = await DeliveryLedger(session).owed_keys(
                [run for run, _ in running.values()], DeliveryKind.OVERDUE
            )
        return {
            backup: (run, since)
            for backup, (run, since) in running.items()
            if (bound.team_id, bound.channel_id, run) in told
        }

    async def muted(self, bound: BoundWorkspace) -> frozenset[int]:
        """The backups muted in the bound channel (the backups list marks their rows)."""
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            row = await bindings.get(bound.team_id, bound.channel_id)
            return (
                frozenset() if row is None else frozenset(await bindings.muted_backup_ids(row.id))
            )

    async def stale_backups(self, bound: BoundWorkspace) -> set[int]:
        """The backups this channel's stale alert is open about, no "fresh again" yet
        (`health`: they are stale, not healthy)."""
        async with self._db.session() as session:
            row = await BindingRepository(session).get(bound.team_id, bound.channel_id)
            if row is None:
                return set()
            settings = await StalenessRepository(session).for_bindings([row.id])
        return {backup for (_, backup), s in settings.items() if s.stale_snapshot_id is not None}

    @staticmethod
    async def _binding_id(bindings: BindingRepository, bound: BoundWorkspace) -> int:
        """The binding's row id, read again: it may have been disconnected since `resolve`."""
        row = await bindings.get(bound.team_id, bound.channel_id)
        if row is None:
            raise NotBound()
        return row.id
