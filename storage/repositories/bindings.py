"""Channel bindings and their per-backup mutes.

A binding is read as a `BindingRecord` (`storage.records`), never handed out as an entity.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import Reencryption, TokenDecryptError
from storage.models import Binding, Mute, Unmute
from storage.records import BindingRecord
from storage.repositories._sql import (
    columns_of,
    copy_of,
    dialect_name,
    insert_if_absent,
    read_records,
)
from storage.types import UTCDateTime

_COLUMNS = columns_of(BindingRecord, Binding)


class BindingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, team_id: str, channel_id: str) -> BindingRecord | None:
        found = await self._read(
            select(*_COLUMNS).where(Binding.team_id == team_id, Binding.channel_id == channel_id)
        )
        return found[0] if found else None

    async def _read(self, statement: Select[Any]) -> list[BindingRecord]:
        return await read_records(self.session, BindingRecord, statement)

    async def enterprise_of(self, team_id: str) -> str | None:
        """The Enterprise Grid org a team's bindings recorded, or None (not Grid, or unknown)."""
        return await self.session.scalar(
            select(Binding.enterprise_id)
            .where(Binding.team_id == team_id, Binding.enterprise_id.is_not(None))
            .limit(1)
        )

    async def upsert(
        self,
        *,
        team_id: str,
        channel_id: str,
        workspace_id: int,
        workspace_name: str | None,
        token_ciphertext: str | None,
        created_by: str,
        now: datetime,
        enterprise_id: str | None = None,
    ) -> BindingRecord:
        """Binds the channel, or re-binds it: it replaces workspace and token, records the new
        author and lifts a pause.

        `alerts_since` (failures that end before it are not announced here) is set to now only
        when the channel starts to listen: a new binding, another workspace, or a paused binding
        resumed. A re-connect to the same workspace while listening keeps it, or a failure that
        ended just before and was not announced yet would be lost. Mutes name backups of the old
        workspace, so they go when the workspace changes.
        """
        values: dict[str, object] = {
            "enterprise_id": enterprise_id,
            "workspace_id": workspace_id,
            "workspace_name": workspace_name,
            "token_ciphertext": token_ciphertext,
            "created_by": created_by,
            "created_at": now,
            "paused_reason": None,
            "paused_at": None,
            "updated_at": now,
        }
        inserted = await insert_if_absent(
            self.session,
            Binding,
            {
                "team_id": team_id,
                "channel_id": channel_id,
                "alerts_enabled": True,
                "alerts_since": now,
                **values,
            },
            ("team_id", "channel_id"),
        )
        binding = await self._get_for_update(team_id, channel_id)
        if binding is None:  # deleted between the two statements by a concurrent disconnect
            raise LookupError(f"binding of {team_id}/{channel_id} vanished during upsert")
        if inserted:
            return copy_of(BindingRecord, binding)  # the entity stays in here
        if binding.workspace_id != workspace_id:
            await self.session.execute(delete(Mute).where(Mute.binding_id == binding.id))
            await self.session.execute(delete(Unmute).where(Unmute.binding_id == binding.id))
            binding.alerts_enabled = True
            values["alerts_since"] = now
        elif binding.paused_at is not None:
            values["alerts_since"] = now  # resumed: what failed while paused stays quiet
        for name, value in values.items():
            setattr(binding, name, value)
        await self.session.flush()
        return copy_of(BindingRecord, binding)  # the entity stays in here

    async def _get_for_update(self, team_id: str, channel_id: str) -> Binding | None:
        statement = (
            select(Binding)
            .where(Binding.team_id == team_id, Binding.channel_id == channel_id)
            .execution_options(populate_existing=True)
        )
        if dialect_name(self.session) == "postgresql":
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def delete(self, team_id: str, channel_id: str) -> bool:
        """Removes the binding (and, through the foreign key, its mutes)."""
        result = await self.session.execute(
            delete(Binding)
            .where(Binding.team_id == team_id, Binding.channel_id == channel_id)
            .returning(Binding.id)
        )
        return result.first() is not None

    async def list_for_team(self, team_id: str) -> list[BindingRecord]:
        return await self._read(
            select(*_COLUMNS).where(Binding.team_id == team_id).order_by(Binding.channel_id)
        )

    async def list_for_workspace(self, workspace_id: int) -> list[BindingRecord]:
        return await self._read(
            select(*_COLUMNS).where(Binding.workspace_id == workspace_id).order_by(Binding.id)
        )

    async def list_with_own_token(self) -> list[BindingRecord]:
        """Bindings that store their own (encrypted) token, team and channel order."""
        return await self._read(
            select(*_COLUMNS)
            .where(Binding.token_ciphertext.is_not(None))
            .order_by(Binding.team_id, Binding.channel_id)
        )

    async def list_alerting(self, workspace_id: int | None = None) -> list[BindingRecord]:
        """Bindings that should hear about failures: alerts on and not paused."""
        statement = select(*_COLUMNS).where(
            Binding.alerts_enabled.is_(True), Binding.paused_at.is_(None)
        )
        if workspace_id is not None:
            statement = statement.where(Binding.workspace_id == workspace_id)
        return await self._read(statement.order_by(Binding.id))

    async def get_many(
        self, channels: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], BindingRecord]:
        """Bindings of many (team, channel) pairs in one query, keyed by the pair (workers).

        The teams are repeated as a plain IN: SQLite searches no index for a list of row values.
        """
        if not channels:
            return {}
        found = await self._read(
            select(*_COLUMNS).where(
                Binding.team_id.in_(sorted({team for team, _ in channels})),
                tuple_(Binding.team_id, Binding.channel_id).in_(list(channels)),
            )
        )
        return {(b.team_id, b.channel_id): b for b in found}

    async def mutes_of(self, binding_ids: Collection[int]) -> dict[int, set[int]]:
        """Muted backup ids of many bindings in one query (the alert scanner's fan-out)."""
        muted: dict[int, set[int]] = {binding_id: set() for binding_id in binding_ids}
        if not binding_ids:
            return muted
        result = await self.session.execute(
            select(Mute.binding_id, Mute.backup_id).where(Mute.binding_id.in_(list(binding_ids)))
        )
        for binding_id, backup_id in result.all():
            muted[binding_id].add(backup_id)
        return muted

    async def pause_team(
        self, team_id: str, reason: str, now: datetime, *, enterprise_id: str | None = None
    ) -> int:
        """Pauses every active binding of a Slack team (app uninstalled, tokens revoked), and
        with `enterprise_id` (an org-wide install) those of every workspace of that Grid org:
        they are stored under the workspaces' team ids, never the org's."""
        result = await self.session.execute(
            update(Binding)
            .where(_of_install(team_id, enterprise_id), Binding.paused_at.is_(None))
            .values(paused_reason=reason, paused_at=now, updated_at=now)
            .returning(Binding.id)
        )
        return len(result.all())

    async def unpause_team(
        self,
        team_id: str,
        reasons: Collection[str],
        now: datetime,
        *,
        enterprise_id: str | None = None,
    ) -> int:
        """Lifts the pauses of a team's bindings made for one of `reasons` (a reinstall); with
        `enterprise_id` (an org-wide install), of every workspace of that Grid org.

        Only those: a channel paused because it was archived stays paused after a reinstall.
        Failures that happened while paused are not announced afterwards (`alerts_since`).
        """
        result = await self.session.execute(
            update(Binding)
            .where(
                _of_install(team_id, enterprise_id),
                Binding.paused_at.is_not(None),
                Binding.paused_reason.in_(list(reasons)),
            )
            .values(paused_reason=None, paused_at=None, alerts_since=now, updated_at=now)
            .returning(Binding.id)
        )
        return len(result.all())

    async def pause_default_token_bindings(
        self, allowed_teams: Collection[str], reason: str, now: datetime
    ) -> list[tuple[str, str]]:
        """Pauses active bindings that use the default token in a team not in `allowed_teams`.

        Returns the (team, channel) pairs paused.
        """
        statement = update(Binding).where(
            Binding.token_ciphertext.is_(None), Binding.paused_at.is_(None)
        )
        if allowed_teams:
            statement = statement.where(Binding.team_id.not_in(list(allowed_teams)))
        result = await self.session.execute(
            statement.values(paused_reason=reason, paused_at=now, updated_at=now).returning(
                Binding.team_id, Binding.channel_id
            )
        )
        return [(team, channel) for team, channel in result.all()]

    async def set_alerts(self, team_id: str, channel_id: str, enabled: bool, now: datetime) -> bool:
        """Turns alerts on or off; False when the channel has no binding.

        Turning them on when they were off moves `alerts_since` to now: what failed while they
        were off stays quiet. A repeated `alerts on` keeps it, so a failure that ended just
        before and was not announced yet still is (one statement: the old value decides).
        """
        values: dict[str, object] = {"alerts_enabled": enabled, "updated_at": now}
        if enabled:
            values["alerts_since"] = case(
                (Binding.alerts_enabled.is_(True), Binding.alerts_since),
                else_=literal(now, UTCDateTime()),
            )
        return await self._update(team_id, channel_id, values)

    async def set_mentions(
        self, team_id: str, channel_id: str, mention_ids: Sequence[str], now: datetime
    ) -> bool:
        """Who the channel's failure alerts mention (none: empty); False when it has no binding."""
        stored = " ".join(mention_ids) or None
        return await self._update(
            team_id, channel_id, {"alert_mentions": stored, "updated_at": now}
        )

    async def pause(self, team_id: str, channel_id: str, reason: str, now: datetime) -> bool:
        """Pauses an active binding (bot removed, channel archived); False if already paused."""
        result = await self.session.execute(
            update(Binding)
            .where(
                Binding.team_id == team_id,
                Binding.channel_id == channel_id,
                Binding.paused_at.is_(None),
            )
            .values(paused_reason=reason, paused_at=now, updated_at=now)
            .returning(Binding.id)
        )
        return result.first() is not None

    async def unpause(self, team_id: str, channel_id: str, now: datetime) -> bool:
        """Lifts a pause; failures that happened while paused are not announced afterwards."""
        result = await self.session.execute(
            update(Binding)
            .where(
                Binding.team_id == team_id,
                Binding.channel_id == channel_id,
                Binding.paused_at.is_not(None),
            )
            .values(paused_reason=None, paused_at=None, alerts_since=now, updated_at=now)
            .returning(Binding.id)
        )
        return result.first() is not None

    async def _update(self, team_id: str, channel_id: str, values: dict[str, object]) -> bool:
        result = await self.session.execute(
            update(Binding)
            .where(Binding.team_id == team_id, Binding.channel_id == channel_id)
            .values(**values)
            .returning(Binding.id)
        )
        return result.first() is not None

    async def mute(self, binding_id: int, backup_id: int, *, muted_by: str, now: datetime) -> bool:
        """Mutes a backup's failure alerts; False when it was already muted."""
        return await insert_if_absent(
            self.session,
            Mute,
            {
                "binding_id": binding_id,
                "backup_id": backup_id,
                "muted_by": muted_by,
                "muted_at": now,
            },
            ("binding_id", "backup_id"),
        )

    async def unmute(self, binding_id: int, backup_id: int, *, now: datetime) -> bool:
        """Unmutes, remembering when (`unmutes`); False when it was not muted."""
        result = await self.session.execute(
            delete(Mute)
            .where(Mute.binding_id == binding_id, Mute.backup_id == backup_id)
            .returning(Mute.backup_id)
        )
        if result.first() is None:
            return False
        where = (Unmute.binding_id == binding_id, Unmute.backup_id == backup_id)
        await self.session.execute(delete(Unmute).where(*where))
        self.session.add(Unmute(binding_id=binding_id, backup_id=backup_id, unmuted_at=now))
        await self.session.flush()
        return True

    async def unmutes_of(self, binding_ids: Collection[int]) -> dict[tuple[int, int], datetime]:
        """(binding, backup) -> when it was last unmuted, for many bindings in one query."""
        if not binding_ids:
            return {}
        result = await self.session.execute(
            select(Unmute.binding_id, Unmute.backup_id, Unmute.unmuted_at).where(
                Unmute.binding_id.in_(list(binding_ids))
            )
        )
        return {(binding, backup): at for binding, backup, at in result.all()}

    async def muted_backup_ids(self, binding_id: int) -> set[int]:
        result = await self.session.scalars(
            select(Mute.backup_id).where(Mute.binding_id == binding_id)
        )
        return set(result.all())

    async def mutes(self, binding_id: int) -> Sequence[Mute]:
        result = await self.session.scalars(
            select(Mute).where(Mute.binding_id == binding_id).order_by(Mute.backup_id)
        )
        return result.all()

    async def reencrypt_tokens(self, rotate: Callable[[str], str]) -> Reencryption:
        """Re-encrypts every stored token with `rotate` (the cipher's newest key). Part of key
        rotation: after it, the old key can be removed. A token no configured key decrypts is
        left as it was and named by its binding: it blocks no other."""
        rows = await self.session.execute(
            select(Binding.id, Binding.team_id, Binding.channel_id, Binding.token_ciphertext)
            .where(Binding.token_ciphertext.is_not(None))
            .order_by(Binding.team_id, Binding.channel_id)
        )
        done = Reencryption()
        for binding_id, team_id, channel_id, ciphertext in rows.tuples():
            assert ciphertext is not None  # filtered above
            try:
                rotated = rotate(ciphertext)
            except TokenDecryptError:
                done.unreadable.append(f"binding {team_id}/{channel_id}")
                continue
            await self.session.execute(
                update(Binding).where(Binding.id == binding_id).values(token_ciphertext=rotated)
            )
            done.rewritten += 1
        return done


def _of_install(team_id: str, enterprise_id: str | None) -> ColumnElement[bool]:
    """The bindings one installation serves: its team's, or an org-wide one's whole org."""
    if enterprise_id is None:
        return Binding.team_id == team_id
    return or_(Binding.team_id == team_id, Binding.enterprise_id == enterprise_id)
