"""Repository queries the workers batch with: many bindings, mutes, watches and sends at once."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.repositories import (
    AlertCursorRepository,
    BindingRepository,
    DeliveryLedger,
    WatchRepository,
)
from storage.repositories.deliveries import SentMark
from tests.storage.conftest import NOW


async def _bind(db: Database, team: str, channel: str, workspace_id: int = 123) -> int:
    async with db.session() as session:
        binding = await BindingRepository(session).upsert(
            team_id=team,
            channel_id=channel,
            workspace_id=workspace_id,
            workspace_name=None,
            token_ciphertext=None,
            created_by="U1",
            now=NOW,
        )
        return binding.id


async def test_get_many_and_mutes_of(db: Database) -> None:
    a = await _bind(db, "T1", "C1")
    b = await _bind(db, "T1", "C2")
    await _bind(db, "T2", "C1")
    async with db.session() as session:
        bindings = BindingRepository(session)
        await bindings.mute(a, 456, muted_by="U1", now=NOW)
        await bindings.mute(a, 457, muted_by="U1", now=NOW)
        found = await bindings.get_many({("T1", "C1"), ("T1", "C2"), ("T9", "C9")})
        muted = await bindings.mutes_of([a, b])
        assert await bindings.get_many(set()) == {}
    assert set(found) == {("T1", "C1"), ("T1", "C2")}
    assert muted == {a: {456, 457}, b: set()}


async def test_pause_team_pauses_only_that_teams_active_bindings(db: Database) -> None:
    await _bind(db, "T1", "C1")
    await _bind(db, "T1", "C2")
    await _bind(db, "T2", "C1")
    async with db.session() as session:
        bindings = BindingRepository(session)
        assert await bindings.pause(team_id="T1", channel_id="C2", reason="archived", now=NOW)
        assert await bindings.pause_team("T1", "uninstalled", NOW) == 1
        c1 = await bindings.get("T1", "C1")
        c2 = await bindings.get("T1", "C2")
        other = await bindings.get("T2", "C1")
    assert c1 is not None and c1.paused_reason == "uninstalled"
    assert c2 is not None and c2.paused_reason == "archived"  # an earlier reason is kept
    assert other is not None and not other.is_paused


async def test_watched_snapshots_and_sent_keys(db: Database) -> None:
    async with db.session() as session:
        await WatchRepository(session).add(
            team_id="T1",
            channel_id="C1",
            message_ts="1.1",
            workspace_id=123,
            backup_id=456,
            backup_name=None,
            snapshot_id=7001,
            started_by="U1",
            started_at=NOW,
            next_poll_at=NOW,
        )
        ledger = DeliveryLedger(session)
        alert, reply = ("T1", "C2", 7001, "alert"), ("T1", "C3", 7001, "thread_reply")
        claims = [alert, ("T1", "C2", 7002, "alert"), reply]
        await ledger.claim_many(claims, owner="me")
        await ledger.mark_sent_many([SentMark(alert, "2.2", NOW), SentMark(reply, "3.3", NOW)])
    async with db.session() as session:
        watched = await WatchRepository(session).watched_snapshots([7001, 7002])
        sent = await DeliveryLedger(session).sent_keys([7001, 7002], "alert")
        assert await DeliveryLedger(session).sent_keys([], "alert") == set()
    assert watched == {("T1", "C1", 7001)}
    assert sent == {("T1", "C2", 7001)}  # 7002 is only claimed; the thread reply is another kind


async def test_delete_claimed_needs_the_lease(db: Database) -> None:
    async with db.session() as session:
        cursors = AlertCursorRepository(session)
        await cursors.ensure(123, 456, None, NOW)
        await cursors.ensure(124, 501, None, NOW + timedelta(hours=1))  # not due yet
        [claimed] = await cursors.claim_due("me", NOW, 10, 30)
        assert (claimed.workspace_id, claimed.backup_id) == (123, 456)
        assert not await cursors.delete_claimed(123, 456, "someone-else")
        assert not await cursors.delete_claimed(124, 501, "me")  # not ours
        assert await cursors.delete_claimed(123, 456, "me")
        assert await cursors.workspaces() == {124}
