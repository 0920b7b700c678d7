"""Personal subscriptions: who gets a channel's failures and recoveries by DM (`Subscription`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Binding, Subscription
from storage.records import BindingRecord
from storage.repositories._sql import insert_if_absent

ALL_BACKUPS = 0
"""`backup_id` of a subscription to every backup of the workspace."""


@dataclass(frozen=True)
class Subscriber:
    """One subscription of a binding: who, and which backup (`ALL_BACKUPS` for all)."""

    binding_id: int
    user_id: str
    backup_id: int

    def covers(self, backup_id: int) -> bool:
        return self.backup_id in (ALL_BACKUPS, backup_id)


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, binding: BindingRecord, user_id: str, backup_id: int, now: datetime
    ) -> bool:
        """Subscribes; False when the person already was (to that backup)."""
        values = {
            "binding_id": binding.id,
            "user_id": user_id,
            "backup_id": backup_id,
            "workspace_id": binding.workspace_id,
            "created_at": now,
        }
        return await insert_if_absent(
            self.session, Subscription, values, ("binding_id", "user_id", "backup_id")
        )

    async def remove(self, binding_id: int, user_id: str, backup_id: int | None) -> int:
        """Unsubscribes from one backup, or from everything (`None`); how many rows went."""
        statement = delete(Subscription).where(
            Subscription.binding_id == binding_id, Subscription.user_id == user_id
        )
        if backup_id is not None:
            statement = statement.where(Subscription.backup_id == backup_id)
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def of_user(self, binding: BindingRecord, user_id: str) -> list[int]:
        """The backups a person follows in this channel (its current workspace's only)."""
        rows = await self.session.scalars(
            select(Subscription.backup_id)
            .where(
                Subscription.binding_id == binding.id,
                Subscription.user_id == user_id,
                _current(binding.workspace_id),
            )
            .order_by(Subscription.backup_id)
        )
        return list(rows.all())

    async def for_bindings(self, bindings: Sequence[BindingRecord]) -> dict[int, list[Subscriber]]:
        """The subscribers of many bindings in one query (the alert scanner's fan-out): `all`,
        and the backups of each binding's current workspace."""
        if not bindings:
            return {}
        workspace_of = {b.id: b.workspace_id for b in bindings}
        rows = await self.session.execute(
            select(
                Subscription.binding_id,
                Subscription.user_id,
                Subscription.backup_id,
                Subscription.workspace_id,
            ).where(Subscription.binding_id.in_(list(workspace_of)))
        )
        found: dict[int, list[Subscriber]] = {}
        for binding_id, user_id, backup_id, workspace_id in rows.all():
            if workspace_of[binding_id] == workspace_id or backup_id == ALL_BACKUPS:
                found.setdefault(binding_id, []).append(Subscriber(binding_id, user_id, backup_id))
        return found

    async def of_user_in_team(self, team_id: str, user_id: str) -> list[tuple[str, int]]:
        """(channel, backup) of every subscription a person has in a team (the App Home)."""
        rows = await self.session.execute(
            select(Binding.channel_id, Subscription.backup_id)
            .join(Binding, Binding.id == Subscription.binding_id)
            .where(
                Binding.team_id == team_id,
                Subscription.user_id == user_id,
                _current(Binding.workspace_id),
            )
            .order_by(Binding.channel_id, Subscription.backup_id)
        )
        return [(channel, backup) for channel, backup in rows.all()]

    async def forget(
        self, team_id: str, user_id: str, channel_ids: Collection[str] | None = None
    ) -> int:
        """Removes a person's subscriptions in a team (or in those channels of it): they left."""
        bindings = select(Binding.id).where(Binding.team_id == team_id)
        if channel_ids is not None:
            bindings = bindings.where(Binding.channel_id.in_(list(channel_ids)))
        result = await self.session.execute(
            delete(Subscription).where(
                Subscription.user_id == user_id, Subscription.binding_id.in_(bindings)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _current(workspace_id: Any) -> ColumnElement[bool]:
    """A subscription that still means something in a channel bound to `workspace_id`: to all
    backups, or to a backup of that workspace (a backup id names a backup of one workspace)."""
    return or_(Subscription.backup_id == ALL_BACKUPS, Subscription.workspace_id == workspace_id)
