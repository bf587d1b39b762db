"""Redis state: conversations, per-user locks, webhook dedup, and counters.

Every key is built here, in one place, as ``bot:<platform>:<user>:<part>`` or
``bot:<area>:<id>``::

    bot:line:<user>:conv        the conversation (JSON), expiring just after its idle time
    bot:line:<user>:flow        the state name only, kept 24 h: "a flow was cut short"
    bot:line:<user>:lock        the per-user lock, taken *before* the conversation is read
    bot:event:<webhookEventId>  "processing" while handled, "done" afterwards (dedup)
    bot:count:<name>:<id>       sliding-window counters (rate limits, mismatch limits)
    bot:block:<name>:<id>       a refusal in force until the key expires
    bot:web:session:<sid hash>  a web My Page session (JSON), expiring after 30 idle minutes
    bot:recent:<platform>:<user>  the customer's last few texts outside any flow, masked, for a
                                staff handoff (1 h; not part of a conversation, so a cancel leaves it)
    bot:slack:event:<event_id>  a Slack event already queued (its retries are ignored), 24 h
    bot:handoff:<id>:drain      the lock of the one job sending a handoff's outbox (storage.handoffs)
    bot:line:<user>:push        the pushes waiting for a LINE user, oldest first (storage.pushes)
    bot:line:<user>:pushing     the lock of the one job sending them
    bot:emu:…                   the emulator's timeline and fake-LINE memory (handlers/emulator/page.py)
    bot:link:<id hash>…         a LINE account-link attempt, its browser and its confirm (storage.link_attempts)
    bot:lock:menu:<user>        one rich menu switch at a time per LINE user (handlers.line.richmenu)

With ``REDIS_URL`` unset an in-process fakeredis stands in (``make run`` only).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from storage import wire
from storage.redis_url import connect

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 30  # a crashed holder frees the lock after this
LOCK_WAIT_SECONDS = 10  # how long a second message waits for the first
EVENT_PROCESSING_SECONDS = 120
EVENT_DONE_SECONDS = 7 * 24 * 3600  # LINE redelivers for a while; remember long enough
# The conversation (with what the customer typed) lives only a little past its idle expiry;
# a marker without personal data remembers for a day that a flow was cut short, so the
# customer can still be told when they come back.
CONVERSATION_GRACE_SECONDS = 60
FLOW_MARKER_SECONDS = 24 * 3600
# What a staff handoff shows of the chat before it: the last few texts, masked, for an hour.
RECENT_TEXTS = 6
RECENT_SECONDS = 3600


class StateUnavailable(Exception):
    """Redis could not be reached or answered with an error."""


def conversation_key(platform: str, user_id: str) -> str:
    return f"bot:{platform}:{user_id}:conv"


def flow_marker_key(platform: str, user_id: str) -> str:
    return f"bot:{platform}:{user_id}:flow"


def lock_key(platform: str, user_id: str) -> str:
    return f"bot:{platform}:{user_id}:lock"


def recent_key(platform: str, user_id: str) -> str:
    return f"bot:recent:{platform}:{user_id}"


def slack_event_key(event_id: str) -> str:
    return f"bot:slack:event:{event_id}"


def handoff_drain_key(handoff_id: int) -> str:
    return f"bot:handoff:{handoff_id}:drain"


def pushes_key(user_id: str) -> str:
    return f"bot:line:{user_id}:push"


def pushes_drain_key(user_id: str) -> str:
    return f"bot:line:{user_id}:pushing"


def event_key(event_id: str) -> str:
    return f"bot:event:{event_id}"


def counter_key(name: str, ident: str) -> str:
    return f"bot:count:{name}:{ident}"


def block_key(name: str, ident: str) -> str:
    return f"bot:block:{name}:{ident}"


def web_session_key(sid_hash: str) -> str:
    """A web session, keyed by the SHA-256 of its cookie value (a leaked key list opens nothing)."""
    return f"bot:web:session:{sid_hash}"


@dataclass
class Conversation:
    """Where one person is in a flow, and what they have told us so far."""

    state: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps({"state": self.state, "data": self.data, "updated_at": self.updated_at},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Conversation:
        obj = json.loads(raw)
        return cls(state=obj["state"], data=obj.get("data") or {}, updated_at=float(obj.get("updated_at", 0)))


class _Unlocked(Exception):
    pass


# Release only if we still hold it (compare-and-delete).
_RELEASE_LUA = """
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
        client.eval(_RELEASE_LUA, 1, key, token)
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


# KEYS: lock, conversation, flow marker. ARGV: lock token ('' for none), "keep" | "del" | "set",
# the conversation's JSON, its TTL, its state, the marker's TTL. With a token, only while that
# lock is held, and the lock is released after. 1: done; 0: the lock had been lost.
_SAVE_LUA = """
if ARGV[1] ~= '' and redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'del' then
  redis.call('del', KEYS[2], KEYS[3])
elseif ARGV[2] == 'set' then
  redis.call('set', KEYS[2], ARGV[3], 'EX', tonumber(ARGV[4]))
  redis.call('set', KEYS[3], ARGV[5], 'EX', tonumber(ARGV[6]))
end
if ARGV[1] ~= '' then redis.call('del', KEYS[1]) end
return 1
"""


@dataclass
class Held:
    """A user's lock while a turn runs, and the conversation read with it."""

    user_id: str
    token: str
    conversation: Conversation | None
    finished: bool = False


class StateStore:
    """Conversations, locks, dedup and counters for one platform, on one Redis connection."""

    def __init__(self, client: redis.Redis, platform: str = "line", lock_seconds: int = LOCK_TIMEOUT_SECONDS) -> None:
        self.redis = client
        self.platform = platform
        self.lock_seconds = lock_seconds  # how long a crashed holder keeps others waiting
        self._save = client.register_script(_SAVE_LUA)

    # -- locks -----------------------------------------------------------------------------
    @contextmanager
    def user_lock(self, user_id: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[str]:
        """Hold the per-user lock and yield its token (for ``save``); raise ``StateUnavailable``
        if it cannot be had in time."""
        key = lock_key(self.platform, user_id)
        try:
            token = take_lock(self.redis, key, self.lock_seconds, wait, StateUnavailable, poll=0.02)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        try:
            yield token
        finally:
            release_lock(self.redis, key, token)

    @contextmanager
    def locked_conversation(self, user_id: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[Held]:
        """``user_lock`` and ``load`` in one round trip to Redis (a pipeline: SET NX, then MGET,
        whose answer counts only when the lock was had). The turn ends with ``finish_turn``
        (save, remember, release: one more round trip); if it does not, the lock is released here."""
        key = lock_key(self.platform, user_id)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        try:
            while True:
                locked, values = wire.send(self.redis, [
                    ("SET", key, token, "NX", "EX", self.lock_seconds),
                    ("MGET", conversation_key(self.platform, user_id), flow_marker_key(self.platform, user_id))])
                for answer in (locked, values):
                    if isinstance(answer, Exception):
                        raise answer
                if locked:
                    raw, marker = values
                    break
                if time.monotonic() > deadline:
                    raise StateUnavailable("user lock busy")
                time.sleep(0.02)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        if raw:
            conversation = Conversation.from_json(raw)
        elif marker:
            conversation = Conversation(state=marker.decode() if isinstance(marker, bytes) else marker)
        else:
            conversation = None
        held = Held(user_id, token, conversation)
        try:
            yield held
        finally:
            if not held.finished:
                release_lock(self.redis, key, token)

    def finish_turn(self, held: Held, conversation: Conversation | None, keep: bool = False,
                    idle_seconds: int = 1800, recent: Sequence[Mapping[str, str]] = ()) -> bool:
        """The turn has committed: store its conversation (None ends it; ``keep`` leaves it as
        it is) while the lock is still ours, release the lock, and keep the (masked) recent
        texts (``{"text": …, "understood": …}``), all in one round trip. Returns False when the
        lock had been lost meanwhile and nothing was saved. A recent text Redis refuses is only noted."""
        keys, args = self._save_keys_args(held.user_id, conversation, idle_seconds, held.token, keep)
        more = [command for item in recent for command in self._recent_commands(held.user_id, item)]
        try:
            results = wire.script(self.redis, self._save, keys, args, *more)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        if isinstance(results[0], Exception):  # the lock is still held: released on leaving
            raise StateUnavailable("redis refused the conversation") from results[0]
        held.finished = True
        if any(isinstance(r, Exception) for r in results[1:]):
            log.info("recent texts not kept (state store refused them)")
        return bool(results[0])

    def _save_keys_args(self, user_id: str, conversation: Conversation | None, idle_seconds: int,
                        lock_token: str = "", keep: bool = False) -> tuple[list[str], list]:
        """``_SAVE_LUA``'s keys and arguments."""
        keys = [lock_key(self.platform, user_id), conversation_key(self.platform, user_id),
                flow_marker_key(self.platform, user_id)]
        if keep:
            return keys, [lock_token, "keep", "", 0, "", 0]
        if conversation is None or not conversation.state:
            return keys, [lock_token, "del", "", 0, "", 0]
        return keys, [lock_token, "set", conversation.to_json(), idle_seconds + CONVERSATION_GRACE_SECONDS,
                      conversation.state, FLOW_MARKER_SECONDS]

    # -- conversations ---------------------------------------------------------------------
    def load(self, user_id: str) -> Conversation | None:
        """The stored conversation, or None. A flow whose data has already expired comes back
        as a conversation with no data and ``updated_at`` 0, so the caller sees it as idle."""
        try:
            raw, marker = self.redis.mget(conversation_key(self.platform, user_id),
                                          flow_marker_key(self.platform, user_id))
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        if raw:
            return Conversation.from_json(raw)
        if marker:
            return Conversation(state=marker.decode() if isinstance(marker, bytes) else marker)
        return None

    def save(self, user_id: str, conversation: Conversation | None, idle_seconds: int = 1800) -> None:
        """Store the conversation for ``idle_seconds`` (and a little grace); None deletes it.
        Outside a turn (the web's unlink, a turn's last resort): a turn saves with ``finish_turn``."""
        try:
            self._save(*self._save_keys_args(user_id, conversation, idle_seconds))
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    # -- the short transcript a staff handoff shows ------------------------------------------
    def _recent_commands(self, user_id: str, item: Mapping[str, str], keep: int = RECENT_TEXTS,
                         seconds: int = RECENT_SECONDS) -> list[tuple]:
        key = recent_key(self.platform, user_id)
        return [("RPUSH", key, json.dumps({**item, "at": time.time()}, ensure_ascii=False)),
                ("LTRIM", key, -keep, -1), ("EXPIRE", key, seconds)]

    def recent_texts(self, user_id: str) -> list[dict[str, Any]]:
        """The customer's last few texts, oldest first (``text``, ``at``, and ``understood``: what the
        bot made of it, when it answered from free text)."""
        try:
            raw = self.redis.lrange(recent_key(self.platform, user_id), 0, -1)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        return [json.loads(item) for item in raw]

    # -- webhook dedup ---------------------------------------------------------------------
    def claim_event(self, event_id: str) -> bool:
        """True if this event is new and now ours; False if it was (or is being) handled."""
        try:
            return bool(self.redis.set(event_key(event_id), "processing", nx=True, ex=EVENT_PROCESSING_SECONDS))
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    def finish_event(self, event_id: str) -> None:
        """Remember the event as handled, so a redelivery is ignored."""
        try:
            self.redis.set(event_key(event_id), "done", ex=EVENT_DONE_SECONDS)
        except redis.RedisError:
            log.warning("could not mark an event as done; a redelivery may be handled twice")

    def release_event(self, event_id: str) -> None:
        """Forget a claim after a failure, so LINE's redelivery is handled."""
        try:
            self.redis.delete(event_key(event_id))
        except redis.RedisError:
            log.warning("could not release an event claim; it expires in %ss", EVENT_PROCESSING_SECONDS)

    # -- counters and blocks ----------------------------------------------------------------
    def count_hit(self, name: str, ident: str, window_seconds: int, now: float | None = None) -> int:
        """Record one hit in a sliding window and return how many hits the window holds."""
        return self._hit(name, ident, window_seconds, time.time() if now is None else now)[0]

    def _hit(self, name: str, ident: str, window_seconds: int, now: float) -> tuple[int, str]:
        """Add a hit (its mark returned) and read the window's count, in one MULTI."""
        key, mark = counter_key(name, ident), uuid.uuid4().hex
        try:
            pipe = self.redis.pipeline()
            pipe.zremrangebyscore(key, 0, now - window_seconds)
            pipe.zadd(key, {mark: now})
            pipe.zcard(key)
            pipe.expire(key, window_seconds)
            return int(pipe.execute()[2]), mark
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    def try_within(self, name: str, ident: str, window_seconds: int, limit: int) -> str | None:
        """Count this try first, atomically, then tell whether it is within ``limit`` tries in the
        window: the try's mark (keep it to count a failure, ``untry`` it after a success), or None
        when over the limit (this try is not counted: a refusal does not lengthen the wait).
        Parallel tries cannot slip past the limit: each sees every try counted before it (issue 21)."""
        tries, mark = self._hit(name, ident, window_seconds, time.time())
        if tries > limit:
            self.untry(name, ident, mark)
            return None
        return mark

    def untry(self, name: str, ident: str, mark: str) -> None:
        """Forget one counted try (it succeeded)."""
        try:
            self.redis.zrem(counter_key(name, ident), mark)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    def count(self, name: str, ident: str, window_seconds: int, now: float | None = None) -> int:
        """How many hits the window holds now."""
        now = time.time() if now is None else now
        try:
            return int(self.redis.zcount(counter_key(name, ident), now - window_seconds, "+inf"))
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    def reset_count(self, name: str, ident: str) -> None:
        """Forget a counter (after a success)."""
        try:
            self.redis.delete(counter_key(name, ident))
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    def block(self, name: str, ident: str, seconds: int) -> None:
        """Refuse ``name`` for ``ident`` for ``seconds``."""
        try:
            self.redis.set(block_key(name, ident), "1", ex=seconds)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc

    def blocked_for(self, name: str, ident: str) -> int:
        """Seconds left on a refusal, 0 when none."""
        try:
            ttl = self.redis.ttl(block_key(name, ident))
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        return max(int(ttl), 0) if ttl and ttl > 0 else 0


def make_redis(url: str | None) -> redis.Redis:
    """A Redis client for ``url``; with none, an in-process fakeredis (one process only)."""
    if url:
        return connect(url)  # plain redis:// or redis+sentinel:// (docs/deployment.md)
    import fakeredis  # only for make run

    log.warning("REDIS_URL is not set: using an IN-PROCESS stand-in for Redis. "
                "State, locks and jobs live in this one process only. Never run production like this.")
    return fakeredis.FakeRedis()


DEV_MAILBOX_KEY = "bot:dev:mailbox"
DEV_MAILBOX_SIZE = 200
DEV_MAILBOX_SECONDS = 7 * 24 * 3600  # a development mailbox, not an archive


def dev_mailbox_add(client: redis.Redis, mail: dict[str, Any]) -> None:
    """Keep a mail in the development mailbox (newest first), shown by the emulator."""
    pipe = client.pipeline()
    pipe.lpush(DEV_MAILBOX_KEY, json.dumps(mail, ensure_ascii=False))
    pipe.ltrim(DEV_MAILBOX_KEY, 0, DEV_MAILBOX_SIZE - 1)
    pipe.expire(DEV_MAILBOX_KEY, DEV_MAILBOX_SECONDS)
    pipe.execute()


def dev_mailbox(client: redis.Redis) -> list[dict[str, Any]]:
    """The development mailbox, newest first."""
    return [json.loads(raw) for raw in client.lrange(DEV_MAILBOX_KEY, 0, DEV_MAILBOX_SIZE - 1)]


def init_app(app) -> None:
    """Attach the Redis client and the LINE state store to the app."""
    client = make_redis(app.config.get("REDIS_URL"))
    app.extensions["redis"] = client
    app.extensions["state"] = StateStore(client, "line", app.config.get("USER_LOCK_SECONDS", LOCK_TIMEOUT_SECONDS))


