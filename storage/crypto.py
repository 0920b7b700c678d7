"""Encryption of stored Skyvia tokens.

Tokens are encrypted with Fernet before they reach the database. Several keys may be configured
(comma-separated): the first encrypts, all decrypt, so a key is rotated by putting a new one first,
re-encrypting with `TokenCipher.rotate`, then dropping the old key.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_ENV = "SKYVIA_BOT_ENCRYPTION_KEY"


class EncryptionKeyError(ValueError):
    """The encryption key is missing, malformed or unsafely stored; the message says the fix."""


class TokenDecryptError(ValueError):
    """A stored token cannot be decrypted with any configured key (wrong or dropped key)."""


@dataclass
class Reencryption:
    """What a key rotation did: how many tokens it re-encrypted, and where the ones no configured
    key decrypts are stored (a binding's team/channel, an installation's team; never a token).

    One unreadable token never stops the rest: it is left as it was and named here."""

    rewritten: int = 0
    unreadable: list[str] = field(default_factory=list)

    def __add__(self, other: Reencryption) -> Reencryption:
        return Reencryption(self.rewritten + other.rewritten, self.unreadable + other.unreadable)


class TokenCipher:
    """Encrypts and decrypts tokens; never shows its keys or what it encrypts."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise EncryptionKeyError(f"{KEY_ENV} is empty: set it to a Fernet key")
        fernets = []
        for position, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # The key itself is never quoted back: it is a secret even when malformed.
                raise EncryptionKeyError(
                    f"{KEY_ENV}: key #{position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self._key_count = len(fernets)

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise TokenDecryptError(
                f"a stored token cannot be decrypted with the configured {KEY_ENV}; "
                "was the key changed? put the old key after the new one to keep reading it"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypts with the first (newest) key, so older keys can then be dropped."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise TokenDecryptError(
                f"a stored token cannot be decrypted with the configured {KEY_ENV}"
            ) from None

    @property
    def key_count(self) -> int:
        return self._key_count

    def __repr__(self) -> str:
        return f"TokenCipher(<{self._key_count} key(s)>)"

    __str__ = __repr__


def key_file_for(sqlite_path: Path) -> Path:
    """Where the generated key of a SQLite database lives: `<db file>.key` beside it."""
    return sqlite_path.with_name(sqlite_path.name + ".key")


def load_or_create_key(encryption_key: str | None, sqlite_path: Path | None) -> str:
    """The configured key; else the key file beside a SQLite database, created on first use.

    A database on a server (PostgreSQL) has no "beside": its key must be configured, or every
    replica would invent its own.
    """
    found = load_key(encryption_key, sqlite_path)
    if found is not None:
        return found
    assert sqlite_path is not None  # load_key raised otherwise
    _create_key_file(key_file_for(sqlite_path))
    return _read_key_file(key_file_for(sqlite_path))


def load_key(encryption_key: str | None, sqlite_path: Path | None) -> str | None:
    """`load_or_create_key` without the creating: None when the key file does not exist yet
    (for `skyvia-bot check`, which must leave no state behind)."""
    if encryption_key and encryption_key.strip():
        return encryption_key.strip()
    if sqlite_path is None:
        raise EncryptionKeyError(
            f"{KEY_ENV} is required with PostgreSQL (and with any database that is not a SQLite "
            "file): set it to a Fernet key"
        )
    path = key_file_for(sqlite_path)
    return _read_key_file(path) if path.exists() else None


def _read_key_file(path: Path) -> str:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise EncryptionKeyError(
            f"key file {path} is accessible by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run `chmod 600 {path}`"
        )
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise EncryptionKeyError(f"key file {path} is empty; remove it or set {KEY_ENV}")
    return key


def _create_key_file(path: Path) -> None:
    """Writes a new key with mode 0600 where no reader can see it half-written.

    The key goes to a private temporary file first and is then hard-linked into place: the link
    fails if another process won the race, and then that process's key is the one everybody uses.
    """
    if not path.parent.is_dir():
        raise EncryptionKeyError(f"cannot create key file {path}: {path.parent} does not exist")
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, Fernet.generate_key() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
