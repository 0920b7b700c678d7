"""Subscriptions and alert takers: once per person and backup, gone with the binding or the
person, scoped to the binding's workspace (`all` outlives a rebind); takes counted per person so
a take, an undo and a take again are three clicks. Run on SQLite and on PostgreSQL
(TEST_DATABASE_URL)."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import Subscription
from storage.records import BindingRecord
from storage.repositories import (
    ALL_BACKUPS,
    AlertRef,
    BindingRepository,
    SubscriptionRepository,
    TakerRepository,
)
from tests.storage.conftest import NOW


async def _bind(db: Database, channel: str, workspace: int = 7) -> BindingRecord:
    async with db.session() as session:
        return await BindingRepository(session).upsert(
            team_id="T1",
            channel_id=channel,
            workspace_id=workspace,
            workspace_name=None,
            token_ciphertext=None,
            created_by="U1",
            now=NOW,
        )


async def test_a_subscription_is_once_and_ends_when_its_person_leaves(db: Database) -> None:
    ops, other = await _bind(db, "C1"), await _bind(db, "C2")
    async with db.session() as session:
        repo = SubscriptionRepository(session)
        assert await repo.add(ops, "U1", 456, NOW)
        assert not await repo.add(ops, "U1", 456, NOW)  # already: no second row, no error
        assert await repo.add(ops, "U2", ALL_BACKUPS, NOW)
        assert await repo.add(other, "U1", 457, NOW)
    async with db.session() as session:
        repo = SubscriptionRepository(session)
        found = await repo.for_bindings([ops, other])
        assert {(s.user_id, s.backup_id) for s in found[ops.id]} == {("U1", 456), ("U2", 0)}
        assert await repo.of_user_in_team("T1", "U1") == [("C1", 456), ("C2", 457)]
        assert await repo.forget("T1", "U1", ["C1"]) == 1  # left #C1 only
        assert await repo.of_user(other, "U1") == [457]
        assert await repo.forget("T1", "U1") == 1  # deactivated: every channel
        assert await repo.of_user_in_team("T1", "U1") == []


async def test_a_rebind_keeps_all_but_not_a_backup_of_the_old_workspace(db: Database) -> None:
    ops = await _bind(db, "C1")
    async with db.session() as session:
        repo = SubscriptionRepository(session)
        await repo.add(ops, "U1", 456, NOW)
        await repo.add(ops, "U2", ALL_BACKUPS, NOW)
    rebound = await _bind(db, "C1", workspace=8)
    async with db.session() as session:
        found = await SubscriptionRepository(session).for_bindings([rebound])
    assert [(s.user_id, s.backup_id) for s in found[rebound.id]] == [("U2", 0)]


async def test_subscriptions_go_with_their_binding(db: Database) -> None:
    ops = await _bind(db, "C1")
    async with db.session() as session:
        await SubscriptionRepository(session).add(ops, "U1", 456, NOW)
    async with db.session() as session:
        assert await BindingRepository(session).delete("T1", "C1")
    async with db.session() as session:
        assert (await session.scalars(select(Subscription))).all() == []


async def test_takes_count_each_persons_clicks_and_list_who_is_on_it(db: Database) -> None:
    alert = AlertRef("T1", "C1", "1700000000.000100", 456, 9001)
    async with db.session() as session:
        repo = TakerRepository(session)
        assert (await repo.takes(alert, "U1")).clicks == 0
        await repo.take(alert, "U1", NOW)
        await repo.take(alert, "U2", NOW)
        await repo.release(alert, "U1", NOW)
        await repo.take(alert, "U1", NOW)
    async with db.session() as session:
        repo = TakerRepository(session)
        takes = await repo.takes(alert, "U1")
        assert takes.clicks == 3  # take, step back, take again
        assert takes.takers == ("U2", "U1")
        assert await repo.on_alert("T1", "C1", alert.alert_ts) == ("U2", "U1")
        # An episode's takers count only on its own alert's snapshot.
        assert await repo.takers_of("T1", "C1", [(456, 9001)]) == {456: ("U2", "U1")}
        assert await repo.takers_of("T1", "C1", [(456, 9005)]) == {}
