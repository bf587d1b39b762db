"""Redis state: a person's conversation (under their lock) and the last few texts they typed.

``StateStore`` is the conversation's storage for one platform: ``locked_conversation`` takes the
per-user lock and reads the conversation in one round trip (the lock is taken *before* the read),
``finish_turn`` saves it, releases the lock and keeps the recent texts in another. The keys are
``bot:<platform>:<user>:conv|flow|lock`` and ``bot:recent:<platform>:<user>`` (``storage.keys``,
with their lifetimes); the lock primitives are ``storage.locks``'.

Beside it on the same client: ``storage.limits`` (counters and blocks), ``storage.events`` (the
event queue), ``storage.pushes`` and ``storage.handoffs`` (outboxes). ``init_app`` attaches the
client (``storage.redis_client.make_redis``), this store and the limits to the app.
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
from storage.keys import conversation_key, flow_marker_key, lock_key, recent_key
from storage.limits import Limits
from storage.locks import release_lock
from storage.redis_client import StateUnavailable, make_redis

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 30  # a crashed holder frees the lock after this
LOCK_WAIT_SECONDS = 10  # how long a second message waits for the first
# The conversation (with what the customer typed) lives only a little past its idle expiry;
# a marker without personal data remembers for a day that a flow was cut short, so the
# customer can still be told when they come back.
CONVERSATION_GRACE_SECONDS = 60
FLOW_MARKER_SECONDS = 24 * 3600
# What a staff handoff shows of the chat before it: the last few texts, masked, for an hour.
RECENT_TEXTS = 6
RECENT_SECONDS = 3600


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
    """Conversations (under the per-user lock) and recent texts for one platform, on one Redis connection."""

    def __init__(self, client: redis.Redis, platform: str = "line", lock_seconds: int = LOCK_TIMEOUT_SECONDS) -> None:
        self.redis = client
        self.platform = platform
        self.lock_seconds = lock_seconds  # how long a crashed holder keeps others waiting
        self._save = client.register_script(_SAVE_LUA)

    # -- the turn: lock, read, save, release ------------------------------------------------
    @contextmanager
    def locked_conversation(self, user_id: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[Held]:
        """Take the per-user lock and ``load`` in one round trip to Redis (a pipeline: SET NX, then
        MGET, whose answer counts only when the lock was had); raise ``StateUnavailable`` if the lock
        cannot be had within ``wait`` seconds. The turn ends with ``finish_turn``
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



def init_app(app) -> None:
    """Attach the Redis client, the LINE state store and the limits to the app."""
    client = make_redis(app.config.get("REDIS_URL"))
    app.extensions["redis"] = client
    app.extensions["state"] = StateStore(client, "line", app.config.get("USER_LOCK_SECONDS", LOCK_TIMEOUT_SECONDS))
    app.extensions["limits"] = Limits(client)


