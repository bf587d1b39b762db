"""Redis locks: SET NX with a random token, released by compare-and-delete, freed by expiry if the
holder dies.

The one-job-at-a-time outboxes (``storage.pushes``, ``storage.handoffs``) hold ``drain_lock``;
the conversation's per-user lock (``storage.state``) is taken in the same pipeline as its read and
released here; the event queue's leases (``storage.events``) release with the same script. The
keys are built in ``storage.keys``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

log = logging.getLogger(__name__)

# Release only if we still hold it (compare-and-delete).
RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


def take_lock(client: redis.Redis, key: str, seconds: int, wait: float, busy: type[Exception],
              poll: float = 0.05) -> str:
    """Take the lock ``key`` (SET NX with a random token, freed after ``seconds`` if its holder
    dies) and return its token; raise ``busy`` if another holds it for more than ``wait`` seconds."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not client.set(key, token, nx=True, ex=seconds):
        if time.monotonic() > deadline:
            raise busy(f"lock {key.rsplit(':', 1)[-1]} busy")
        time.sleep(poll)
    return token


def release_lock(client: redis.Redis, key: str, token: str) -> None:
    """Release the lock ``key`` if ``token`` still holds it; a Redis that cannot be reached leaves
    it to expire."""
    try:
        client.eval(RELEASE_LUA, 1, key, token)
    except redis.RedisError:
        log.warning("could not release a lock; it will expire")


@contextmanager
def drain_lock(client: redis.Redis, key: str, seconds: int, wait: float, busy: type[Exception]) -> Iterator[str]:
    """Hold the lock ``key`` while one job sends an outbox in order (a handoff's posts, a LINE
    user's pushes): ``take_lock``, released when the block ends."""
    token = take_lock(client, key, seconds, wait, busy)
    try:
        yield token
    finally:
        release_lock(client, key, token)
