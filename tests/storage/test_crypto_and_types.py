from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from storage.crypto import (
    EncryptionKeyError,
    TokenCipher,
    TokenDecryptError,
    key_file_for,
    load_or_create_key,
)
from storage.db import Database
from storage.models import AuditEntry
from storage.repositories import AuditRepository

TOKEN = "skyvia-secret-token-0123456789"


def test_cipher_round_trips_and_hides_the_token() -> None:
    key = Fernet.generate_key().decode()
    cipher = TokenCipher(key)

    ciphertext = cipher.encrypt(TOKEN)

    assert TOKEN not in ciphertext
    assert cipher.decrypt(ciphertext) == TOKEN
    assert key not in repr(cipher) and key not in str(cipher)


def test_rotation_new_key_first_then_old_key_dropped() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = TokenCipher(old).encrypt(TOKEN)
    during = TokenCipher(f"{new}, {old}")

    assert during.decrypt(stored) == TOKEN  # all keys decrypt
    rotated = during.rotate(stored)

    after = TokenCipher(new)
    assert after.decrypt(rotated) == TOKEN
    assert after.decrypt(during.encrypt(TOKEN)) == TOKEN  # the first key encrypts
    with pytest.raises(TokenDecryptError):
        after.decrypt(stored)


def test_wrong_key_and_malformed_key_errors_do_not_echo_secrets() -> None:
    stored = TokenCipher(Fernet.generate_key().decode()).encrypt(TOKEN)
    with pytest.raises(TokenDecryptError) as wrong:
        TokenCipher(Fernet.generate_key().decode()).decrypt(stored)
    assert TOKEN not in str(wrong.value)

    with pytest.raises(EncryptionKeyError, match="key #2 is not a Fernet key") as bad:
        TokenCipher(f"{Fernet.generate_key().decode()},not-a-key-secret")
    assert "not-a-key-secret" not in str(bad.value)
    with pytest.raises(EncryptionKeyError):
        TokenCipher(" , ")


def test_configured_key_wins_over_any_key_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()

    assert load_or_create_key(f" {key} ", tmp_path / "bot.db") == key
    assert not key_file_for(tmp_path / "bot.db").exists()


def test_key_file_is_created_0600_beside_the_database_and_reused(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    previous = os.umask(0o000)  # even a permissive umask must not widen the mode
    try:
        key = load_or_create_key(None, database)
    finally:
        os.umask(previous)

    path = tmp_path / "bot.db.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TokenCipher(key).decrypt(TokenCipher(key).encrypt(TOKEN)) == TOKEN
    assert load_or_create_key("", database) == key
    assert [p.name for p in tmp_path.iterdir()] == ["bot.db.key"]  # no temporary file left


def test_racing_creators_all_get_the_same_key(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        keys.append(load_or_create_key(None, database))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 8 and len(set(keys)) == 1


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    load_or_create_key(None, database)
    key_file_for(database).chmod(0o644)

    with pytest.raises(EncryptionKeyError, match="chmod 600"):
        load_or_create_key(None, database)


def test_without_key_or_sqlite_file_the_error_names_the_variable() -> None:
    with pytest.raises(EncryptionKeyError, match="SKYVIA_BOT_ENCRYPTION_KEY is required"):
        load_or_create_key(None, None)


async def test_timestamps_come_back_as_aware_utc(db: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=plus_two)
    async with db.session() as session:
        await AuditRepository(session).add("T1", "C1", "U1", "a", None, "ok", at=local)
        await AuditRepository(session).add(
            "T1", "C1", "U1", "b", None, "ok", at=datetime(2024, 3, 1, 11, 0, tzinfo=UTC)
        )

    async with db.session() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.at))).all()
        earlier = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.at < datetime(2024, 3, 1, 11, tzinfo=UTC))
        )
        earlier_actions = earlier.all()

    assert [row.action for row in rows] == ["a", "b"]  # 10:30 UTC sorts before 11:00 UTC
    assert rows[0].at == local and rows[0].at.tzinfo == UTC
    assert rows[0].at.hour == 10 and rows[0].at.microsecond == 123456
    assert earlier_actions == ["a"]


async def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.session() as session:
            await AuditRepository(session).add(
                "T1", "C1", "U1", "a", None, "ok", at=datetime(2024, 3, 1, 12)
            )
