"""The app's password hashes: argon2id at RFC 9106's low-memory profile. Most tests hash at quick
parameters instead (tests/conftest.py, ``QUICK_HASHER``); this is where the real ones are held."""

import pytest
from argon2 import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from storage import security

pytestmark = pytest.mark.real_password_hash


def test_the_app_hashes_with_argon2id_at_the_rfc_9106_low_memory_profile():
    hasher = security._hasher
    assert hasher is not None
    assert (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len,
            hasher.salt_len) == (Type.ID, RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost,
                                 RFC_9106_LOW_MEMORY.parallelism, RFC_9106_LOW_MEMORY.hash_len,
                                 RFC_9106_LOW_MEMORY.salt_len)
    stored = security.hash_password("Koka2026pw")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert security.verify_password(stored, "Koka2026pw") and not security.needs_rehash(stored)
