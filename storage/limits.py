"""Counters and refusals on Redis: sliding-window hit counts and blocks that expire.

The rate and mismatch limits of the conversation (``bot.flows.registration``, ``bot.flows.handoff``),
the web login and reminder throttles (``handlers.web``) and the rich menu budget
(``handlers.line.richmenu``) all count here, under names they choose (``web_login_id``,
``register_mismatch_user``, …) and identities that are keyed hashes wherever they stand for
personal data. Keys: ``bot:count:<name>:<id>`` and ``bot:block:<name>:<id>`` (``storage.keys``).
Every call raises ``StateUnavailable`` when Redis fails: a caller refuses rather than let a
limit go uncounted.
"""

from __future__ import annotations

import time
import uuid

import redis

from storage.keys import block_key, counter_key
from storage.redis_client import translated


class Limits:
    """Sliding-window counters and blocks, on one Redis connection (``app.extensions["limits"]``)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def count_hit(self, name: str, ident: str, window_seconds: int, now: float | None = None) -> int:
        """Record one hit in a sliding window and return how many hits the window holds."""
        return self._hit(name, ident, window_seconds, time.time() if now is None else now)[0]

    @translated
    def _hit(self, name: str, ident: str, window_seconds: int, now: float) -> tuple[int, str]:
        """Add a hit (its mark returned) and read the window's count, in one MULTI."""
        key, mark = counter_key(name, ident), uuid.uuid4().hex
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(key, 0, now - window_seconds)
        pipe.zadd(key, {mark: now})
        pipe.zcard(key)
        pipe.expire(key, window_seconds)
        return int(pipe.execute()[2]), mark

    def try_within(self, name: str, ident: str, window_seconds: int, limit: int) -> str | None:
        """Count this try first, atomically, then tell whether it is within ``limit`` tries in the
        window: the try's mark (keep it to count a failure, ``untry`` it after a success), or None
        when over the limit (this try is not counted: a refusal does not lengthen the wait).
        Parallel tries cannot slip past the limit: each sees every try counted before it."""
        tries, mark = self._hit(name, ident, window_seconds, time.time())
        if tries > limit:
            self.untry(name, ident, mark)
            return None
        return mark

    @translated
    def untry(self, name: str, ident: str, mark: str) -> None:
        """Forget one counted try (it succeeded)."""
        self.redis.zrem(counter_key(name, ident), mark)

    @translated
    def count(self, name: str, ident: str, window_seconds: int, now: float | None = None) -> int:
        """How many hits the window holds now."""
        now = time.time() if now is None else now
        return int(self.redis.zcount(counter_key(name, ident), now - window_seconds, "+inf"))

    @translated
    def reset_count(self, name: str, ident: str) -> None:
        """Forget a counter (after a success)."""
        self.redis.delete(counter_key(name, ident))

    @translated
    def block(self, name: str, ident: str, seconds: int) -> None:
        """Refuse ``name`` for ``ident`` for ``seconds``."""
        self.redis.set(block_key(name, ident), "1", ex=seconds)

    @translated
    def blocked_for(self, name: str, ident: str) -> int:
        """Seconds left on a refusal, 0 when none."""
        ttl = self.redis.ttl(block_key(name, ident))
        return max(int(ttl), 0) if ttl and ttl > 0 else 0
