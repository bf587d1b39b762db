"""The durable queue of incoming LINE events: Redis Streams, partitioned by user, one consumer a partition.

Keys (built in ``storage.keys``)::

    bot:events:<p>            a stream of events; <p> = crc32(user id) mod ``partitions``
    bot:events:<p>:lease      the consumer that owns partition <p> now (expires unless renewed)
    bot:events:consumers      a sorted set of live consumers, scored by their last heartbeat
    bot:event:<id>            the dedup claim: "queued" until a worker has finished, then "done"
    bot:events:flood:<user>   set while a person was lately told their flood was answered once

``enqueue`` claims the event id and appends the event to its partition in one Lua script,
so an event is either claimed and queued, or neither (a redelivery is then handled). A
partition is read by the consumer group ``workers``, and only by the consumer that holds
its lease, so each person's events are handled one at a time and in the order they came.
A consumer takes over a partition's pending entries (``XAUTOCLAIM``) when it gets the
lease, so what a dead worker left is handled first, in order. An entry is acknowledged
and deleted (``XACK`` + ``XDEL``) only after its turn has committed and its answer was
sent or queued. Redis must keep what it acknowledges: run it with AOF (``appendonly yes``)
and ``maxmemory-policy noeviction`` in production.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field

import redis

from storage import wire
from storage.errors import Unavailable
from storage.keys import CONSUMERS_KEY, event_key, flood_key, lease_key, stream_key
from storage.locks import RELEASE_LUA
from storage.redis_client import StateUnavailable, translated

log = logging.getLogger(__name__)

GROUP = "workers"
DEFAULT_PARTITIONS = 16
DEFAULT_MAX_QUEUED = 50_000  # a partition longer than this refuses (503): LINE redelivers later
DEFAULT_LEASE_SECONDS = 15.0
CLAIM_SECONDS = 24 * 3600  # "queued" outlives any sane backlog
EVENT_DONE_SECONDS = 7 * 24 * 3600  # LINE redelivers for a while; remember "done" long enough


def partition_of(user_id: str, partitions: int) -> int:
    """The partition a user's events go to (stable across processes and restarts)."""
    return zlib.crc32(user_id.encode()) % partitions


# KEYS: claim, stream. ARGV: claim ttl, max length, payload. 1 queued, 0 duplicate, -1 full.
_ENQUEUE_LUA = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
if redis.call('xlen', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
redis.call('set', KEYS[1], 'queued', 'EX', tonumber(ARGV[1]))
redis.call('xadd', KEYS[2], '*', 'e', ARGV[3])
return 1
"""

# KEYS: lease. ARGV: owner, ttl ms. Take a free lease or renew our own.
_LEASE_LUA = """
local owner = redis.call('get', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
"""

# KEYS: lease. ARGV: owner, ttl ms. Extend the lease only if we still hold it.
_RENEW_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], tonumber(ARGV[2])) end
return 0
"""


class QueueFull(Unavailable):
    """The event's partition holds more than the configured maximum."""


@dataclass
class Entry:
    """One queued event as read from its partition."""

    partition: int
    entry_id: str
    payload: str
    deliveries: int = 1  # >1: a consumer has had it before (a crash or a retry)


class EventQueue:
    """Enqueue (the webhook) and consume (the workers) LINE events."""

    def __init__(self, client: redis.Redis, partitions: int = DEFAULT_PARTITIONS,
                 max_queued: int = DEFAULT_MAX_QUEUED, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.redis = client
        self.partitions = partitions
        self.max_queued = max_queued
        self.lease_seconds = lease_seconds
        self._enqueue = client.register_script(_ENQUEUE_LUA)
        self._lease = client.register_script(_LEASE_LUA)
        self._renew = client.register_script(_RENEW_LUA)
        self._release = client.register_script(RELEASE_LUA)  # a lease is dropped like a lock
        self._groups_ready = False
        # Wakes consumers in this process at once (the in-process worker of `make run`, where
        # the Redis stand-in cannot block); other processes wake from their blocking read.
        self.wakeup = threading.Condition()

    # -- the webhook's side -------------------------------------------------------------------
    def enqueue(self, event_id: str, user_id: str, payload: str) -> bool:
        """Claim ``event_id`` and queue the event: True if queued, False if it was already
        claimed (a redelivery). Raises ``StateUnavailable`` (Redis down) or ``QueueFull``."""
        partition = partition_of(user_id, self.partitions)
        keys, args = [event_key(event_id), stream_key(partition)], [CLAIM_SECONDS, self.max_queued, payload]
        try:
            (answer,) = wire.script(self.redis, self._enqueue, keys, args)
            if isinstance(answer, Exception):
                raise answer
            result = int(answer)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
        if result < 0:
            raise QueueFull(partition)
        if result:
            with self.wakeup:
                self.wakeup.notify_all()
        return bool(result)

    # -- the workers' side --------------------------------------------------------------------
    def ensure_groups(self, force: bool = False) -> None:
        """Create the consumer group on every partition (idempotent; ``force`` after a flush)."""
        if self._groups_ready and not force:
            return
        for partition in range(self.partitions):
            self.ensure_group(partition)
        self._groups_ready = True

    def ensure_group(self, partition: int) -> None:
        """Create the consumer group on one partition (idempotent)."""
        try:
            self.redis.xgroup_create(stream_key(partition), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def heartbeat(self, consumer: str) -> None:
        self.redis.zadd(CONSUMERS_KEY, {consumer: time.time()})

    def forget_consumer(self, consumer: str) -> None:
        self.redis.zrem(CONSUMERS_KEY, consumer)

    def live_consumers(self) -> int:
        now = time.time()
        self.redis.zremrangebyscore(CONSUMERS_KEY, 0, now - 3 * self.lease_seconds)
        return max(1, int(self.redis.zcount(CONSUMERS_KEY, now - self.lease_seconds * 2, "+inf")))

    def fair_share(self) -> int:
        return math.ceil(self.partitions / self.live_consumers())

    def take_lease(self, partition: int, consumer: str) -> bool:
        """Take a free lease, or renew ours; False when another consumer holds it."""
        return bool(self._lease(keys=[lease_key(partition)], args=[consumer, int(self.lease_seconds * 1000)]))

    def renew_lease(self, partition: int, consumer: str) -> bool:
        """Extend a lease we hold; False when it ran out (or was taken) meanwhile."""
        return bool(self._renew(keys=[lease_key(partition)], args=[consumer, int(self.lease_seconds * 1000)]))

    def drop_lease(self, partition: int, consumer: str) -> None:
        self._release(keys=[lease_key(partition)], args=[consumer])

    def claim_pending(self, partition: int, consumer: str) -> None:
        """Move every pending entry of the partition to ``consumer`` (we hold the lease)."""
        cursor = "0-0"
        while True:
            result = self.redis.xautoclaim(stream_key(partition), GROUP, consumer, 0, cursor, count=100)
            cursor = result[0].decode() if isinstance(result[0], bytes) else result[0]
            if cursor == "0-0" or not result[1]:
                return

    def read(self, partitions: list[int], consumer: str, pending: bool, count: int = 16,
             block_ms: int | None = None, acks: list[tuple[Entry, str | None]] | None = None,
             after: dict[int, str] | None = None) -> list[Entry]:
        """Entries of our partitions: our own pending ones (``pending``) or new ones; at most
        ``count`` a partition, each partition's in stream order.

        ``after``: with ``pending``, read each partition's pending entries after this id (the
        last one already in hand; default from the first).
        ``acks``: entries handled since the last read, with the event id to remember as done
        (or None), acknowledged in the same round trip before the read (``ack``) and removed
        from the list once Redis has them; on an error they stay, to go with the next read."""
        if not partitions:
            if acks:
                self.flush_acks(acks)
            return []
        keys = [stream_key(p) for p in partitions]
        ids = [(after or {}).get(p, "0") for p in partitions] if pending else [">"] * len(keys)
        read = ("XREADGROUP", "GROUP", GROUP, consumer, "COUNT", count,
                *(() if pending or block_ms is None else ("BLOCK", block_ms)),
                "STREAMS", *keys, *ids)
        result = self._ack_and_read(acks or [], read)
        if isinstance(result, redis.ResponseError) and "NOGROUP" in str(result):
            # The streams went away (a flushed or replaced Redis): make the groups again, read again.
            log.warning("event queue groups missing; recreating them")
            self.ensure_groups(force=True)
            result = self._ack_and_read([], read)
        if isinstance(result, Exception):
            raise result
        entries: list[Entry] = []
        for stream, items in (result.items() if isinstance(result, dict) else result or []):  # RESP3 | RESP2
            partition = int(_text(stream).rsplit(":", 1)[1])
            for entry_id, fields in items:
                if not fields:  # deleted meanwhile (acknowledged by a consumer whose lease had run out)
                    self.ack(Entry(partition, _text(entry_id), ""))
                    continue
                values = fields if isinstance(fields, dict) else dict(zip(fields[::2], fields[1::2], strict=False))
                payload = values.get(b"e") or values.get("e")
                entries.append(Entry(partition, _text(entry_id), _text(payload), 2 if pending else 1))
        return entries

    def ack(self, entry: Entry, done_event_id: str | None = None) -> None:
        """The entry is done: acknowledge and delete it (the stream keeps only what is waiting);
        with ``done_event_id``, remember that event as handled for a week first (a redelivery
        is then ignored), in the same round trip."""
        self.flush_acks([(entry, done_event_id)])

    def flush_acks(self, acks: list[tuple[Entry, str | None]]) -> None:
        """``ack`` every entry in ``acks`` in one round trip; the list is emptied once Redis has them."""
        if acks:
            self._ack_and_read(acks, None)

    def _ack_and_read(self, acks: list[tuple[Entry, str | None]], read: tuple | None):
        """The acknowledgements (``ack``), then the read if any, in one round trip (XREADGROUP
        blocks after them). Acknowledgements Redis has are removed from ``acks``; the read's
        answer (or its error) is returned."""
        commands: list[tuple] = []
        for entry, done_event_id in acks:
            if done_event_id is not None:
                commands.append(("SET", event_key(done_event_id), "done", "EX", EVENT_DONE_SECONDS))
            commands.append(("XACK", stream_key(entry.partition), GROUP, entry.entry_id))
            commands.append(("XDEL", stream_key(entry.partition), entry.entry_id))
        if read is not None:
            commands.append(read)
        answers = wire.send(self.redis, commands)
        for answer in answers[:len(answers) - (read is not None)]:
            if isinstance(answer, Exception):
                raise answer  # the acknowledgements stay in the list, for the next round trip
        acks.clear()
        return answers[-1] if read is not None else None

    def first_flood_notice(self, user_id: str, seconds: float) -> bool:
        """True for the first call about this person in ``seconds`` (on every worker and host):
        a flooding person is told once, not once per run of their messages."""
        return bool(self.redis.set(flood_key(user_id), "1", nx=True, px=max(1, int(seconds * 1000))))

    def is_done(self, event_id: str) -> bool:
        raw = self.redis.get(event_key(event_id))
        return raw in (b"done", "done")

    @translated
    def release_claim(self, event_id: str) -> None:
        """Forget the claim, so a redelivery of this event is handled (after a fault)."""
        self.redis.delete(event_key(event_id))

    def stranded(self, beyond: int = 1024) -> dict[int, int]:
        """Events waiting in streams numbered ``partitions`` and up (to ``beyond``): left there when
        ``EVENT_PARTITIONS`` was lowered with events queued, and read by nobody until it is raised back."""
        if self.partitions >= beyond:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.partitions, beyond):
            pipe.xlen(stream_key(partition))
        return {partition: int(n) for partition, n in zip(range(self.partitions, beyond), pipe.execute(), strict=True)
                if int(n)}

    def depth(self) -> dict[int, int]:
        """Events waiting per partition (queued and not yet acknowledged)."""
        pipe = self.redis.pipeline()
        for partition in range(self.partitions):
            pipe.xlen(stream_key(partition))
        return dict(enumerate(int(n) for n in pipe.execute()))

    def oldest_age_seconds(self) -> float:
        """How long the oldest waiting event has waited (0 when none), from its stream id."""
        oldest = None
        for partition in range(self.partitions):
            first = self.redis.xrange(stream_key(partition), count=1)
            if first:
                millis = int(_text(first[0][0]).split("-")[0])
                oldest = millis if oldest is None else min(oldest, millis)
        return 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Leases:
    """The partitions one consumer holds, shared with the thread that renews them."""

    consumer: str = field(default_factory=lambda: "c-" + uuid.uuid4().hex[:12])
    held: set[int] = field(default_factory=set)
    fresh: set[int] = field(default_factory=set)  # taken over: read pending entries first
    next_rebalance: float = 0.0  # monotonic time of the next look at the fair share
    acks: list[tuple[Entry, str | None]] = field(default_factory=list)  # handled, not yet acknowledged
    lock: threading.Lock = field(default_factory=threading.Lock)
