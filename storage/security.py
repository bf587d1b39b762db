"""Secrets at rest: argon2id password hashes and single-use link tokens stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's "low memory" profile of argon2id.
_hasher = PasswordHasher()
TOKEN_BYTES = 32  # 256 bits, well above the 128 the house rules ask for


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; False for a mismatch or an unusable hash."""
    if not password_hash:
        # Spend comparable time so a missing account is not told apart by timing.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (rehash at login)."""
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> tuple[str, str]:
    """A fresh random URL-safe token and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a token (hex SHA-256; the token itself has 256 bits of entropy)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
