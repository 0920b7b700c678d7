from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import BindingRepository
from tests.storage.conftest import NOW


async def _bind(db: Database, *, workspace_id: int = 7, channel: str = "C1", **kw: object):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        values = {
            "team_id": "T1",
            "channel_id": channel,
            "workspace_id": workspace_id,
            "workspace_name": "Ops",
            "token_ciphertext": None,
            "created_by": "U1",
            "now": NOW,
        }
        values.update(kw)
        return await BindingRepository(session).upsert(**values)  # type: ignore[arg-type]


async def test_bind_then_get(db: Database) -> None:
    created = await _bind(db)

    async with db.session() as session:
        found = await BindingRepository(session).get("T1", "C1")
        missing = await BindingRepository(session).get("T1", "C2")

    assert missing is None
    assert found is not None and found.id == created.id
    assert (found.workspace_id, found.created_by, found.alerts_enabled) == (7, "U1", True)
    assert found.alerts_since == NOW and found.uses_default_token and not found.is_paused


async def test_rebinding_replaces_and_resets_and_clears_mutes_when_the_workspace_changes(
    db: Database,
) -> None:
    first = await _bind(db)
    async with db.session() as session:
        repo = BindingRepository(session)
        assert await repo.mute(first.id, 456, muted_by="U1", now=NOW) is True
        await repo.pause("T1", "C1", "channel_not_found", NOW)

    later = NOW + timedelta(hours=1)
    same = await _bind(db, created_by="U2", token_ciphertext="ct-1", now=later)
    async with db.session() as session:
        muted_after_same = await BindingRepository(session).muted_backup_ids(first.id)

    other = await _bind(db, workspace_id=8, now=later + timedelta(hours=1))
    async with db.session() as session:
        muted_after_other = await BindingRepository(session).muted_backup_ids(first.id)

    assert same.id == first.id and same.created_by == "U2" and same.token_ciphertext == "ct-1"
    assert same.paused_at is None and same.paused_reason is None and same.alerts_since == later
    assert muted_after_same == {456}
    assert other.workspace_id == 8 and other.token_ciphertext is None
    assert muted_after_other == set()


async def test_delete_removes_the_binding_and_its_mutes(db: Database) -> None:
    binding = await _bind(db)
    async with db.session() as session:
        await BindingRepository(session).mute(binding.id, 1, muted_by="U1", now=NOW)

    async with db.session() as session:
        repo = BindingRepository(session)
        assert await repo.delete("T1", "C1") is True
        assert await repo.delete("T1", "C1") is False
    async with db.session() as session:
        assert await BindingRepository(session).muted_backup_ids(binding.id) == set()


async def test_lists_by_team_workspace_and_alerting(db: Database) -> None:
    await _bind(db, channel="C1", workspace_id=7)
    await _bind(db, channel="C2", workspace_id=7)
    await _bind(db, channel="C3", workspace_id=9)
    await _bind(db, channel="C4", workspace_id=7, team_id="T2")
    async with db.session() as session:
        repo = BindingRepository(session)
        assert await repo.set_alerts("T1", "C2", False, NOW) is True
        assert await repo.set_alerts("T1", "C404", False, NOW) is False
        assert await repo.pause("T2", "C4", "is_archived", NOW) is True

    async with db.session() as session:
        repo = BindingRepository(session)
        team = [b.channel_id for b in await repo.list_for_team("T1")]
        workspace = [b.channel_id for b in await repo.list_for_workspace(7)]
        alerting = [b.channel_id for b in await repo.list_alerting()]
        alerting_7 = [b.channel_id for b in await repo.list_alerting(7)]

    assert team == ["C1", "C2", "C3"]
    assert sorted(workspace) == ["C1", "C2", "C4"]
    assert alerting == ["C1", "C3"] and alerting_7 == ["C1"]


async def test_turning_alerts_back_on_moves_alerts_since(db: Database) -> None:
    await _bind(db)
    later = NOW + timedelta(days=1)
    async with db.session() as session:
        await BindingRepository(session).set_alerts("T1", "C1", False, NOW)
        await BindingRepository(session).set_alerts("T1", "C1", True, later)
    async with db.session() as session:
        binding = await BindingRepository(session).get("T1", "C1")
    assert binding is not None and binding.alerts_enabled and binding.alerts_since == later


async def test_a_repeated_alerts_on_keeps_alerts_since(db: Database) -> None:
    """Only off -> on moves it: a failure that ended before a repeated `alerts on` and was not
    announced yet must still be."""
    await _bind(db)
    async with db.session() as session:
        assert await BindingRepository(session).set_alerts("T1", "C1", True, NOW + timedelta(1))
    async with db.session() as session:
        binding = await BindingRepository(session).get("T1", "C1")
    assert binding is not None and binding.alerts_enabled and binding.alerts_since == NOW


async def test_a_reconnect_to_the_same_workspace_keeps_alerts_since(db: Database) -> None:
    await _bind(db)
    later = NOW + timedelta(hours=1)
    same = await _bind(db, created_by="U2", token_ciphertext="ct-1", now=later)
    assert same.alerts_since == NOW and same.created_by == "U2" and same.created_at == later
    other = await _bind(db, workspace_id=8, now=later + timedelta(hours=1))
    assert other.alerts_since == later + timedelta(hours=1)


async def test_pause_and_unpause_report_whether_they_changed_anything(db: Database) -> None:
    await _bind(db)
    later = NOW + timedelta(minutes=5)
    async with db.session() as session:
        repo = BindingRepository(session)
        assert await repo.unpause("T1", "C1", NOW) is False
        assert await repo.pause("T1", "C1", "not_in_channel", NOW) is True
        assert await repo.pause("T1", "C1", "not_in_channel", later) is False
    async with db.session() as session:
        paused = await BindingRepository(session).get("T1", "C1")
        assert paused is not None
        assert (paused.paused_reason, paused.paused_at) == ("not_in_channel", NOW)
        assert await BindingRepository(session).unpause("T1", "C1", later) is True
    async with db.session() as session:
        resumed = await BindingRepository(session).get("T1", "C1")
    assert resumed is not None and not resumed.is_paused and resumed.alerts_since == later


async def test_mute_and_unmute_are_idempotent(db: Database) -> None:
    binding = await _bind(db)
    async with db.session() as session:
        repo = BindingRepository(session)
        assert await repo.mute(binding.id, 5, muted_by="U1", now=NOW) is True
        assert await repo.mute(binding.id, 5, muted_by="U2", now=NOW) is False
        assert await repo.mute(binding.id, 6, muted_by="U2", now=NOW) is True
        assert await repo.unmute(binding.id, 6, now=NOW) is True
        assert await repo.unmute(binding.id, 6, now=NOW + timedelta(hours=1)) is False
        mutes = await repo.mutes(binding.id)
        unmuted = await repo.unmutes_of([binding.id])
    assert [(m.backup_id, m.muted_by) for m in mutes] == [(5, "U1")]
    assert unmuted == {(binding.id, 6): NOW}  # a no-op unmute moves nothing


async def test_a_second_unmute_remembers_the_later_time(db: Database) -> None:
    binding = await _bind(db)
    async with db.session() as session:
        repo = BindingRepository(session)
        for at in (NOW, NOW + timedelta(hours=1)):
            await repo.mute(binding.id, 5, muted_by="U1", now=at)
            assert await repo.unmute(binding.id, 5, now=at + timedelta(minutes=1))
        unmuted = await repo.unmutes_of([binding.id])
    assert unmuted == {(binding.id, 5): NOW + timedelta(hours=1, minutes=1)}


async def test_concurrent_first_binds_of_one_channel_leave_one_row(
    db: Database, replica: Database
) -> None:
    a, b = await asyncio.gather(_bind(db, created_by="UA"), _bind(replica, created_by="UB"))

    async with db.session() as session:
        rows = await BindingRepository(session).list_for_team("T1")
    assert a.id == b.id and len(rows) == 1 and rows[0].created_by in {"UA", "UB"}


async def test_the_token_is_not_readable_in_the_sqlite_file(
    db: Database, migrated_database_url: str
) -> None:
    if not db.is_sqlite:
        pytest.skip("reads the SQLite file")
    token = "skyvia-token-" + Fernet.generate_key().decode()[:24]
    cipher = TokenCipher(Fernet.generate_key().decode())
    await _bind(db, token_ciphertext=cipher.encrypt(token))
    async with db.session() as session:
        stored = await BindingRepository(session).get("T1", "C1")
    await db.dispose()  # checkpoints the WAL into the file

    path = Path(make_url(migrated_database_url).database or "")
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert stored is not None and stored.token_ciphertext is not None
    assert cipher.decrypt(stored.token_ciphertext) == token
    assert stored.token_ciphertext.encode() in raw  # we did read the data that holds it
    assert token.encode() not in raw
    assert token not in repr(stored)
