"""The pushes waiting for one LINE user, sent oldest first: a Redis list per user.

Every push to a person goes through their list (a turn's answer that could not be a reply,
a long answer's later batches, staff replies from a handoff, the 本登録 push): batches of at
most five messages, each with its retry key, appended in the order they were made. One job
at a time per person (a lock) sends the oldest and removes it only once LINE has it; a push
that fails stops the drain, so nothing overtakes it, and the job is retried (RQ) starting
with the same batch. Any number of drain jobs may be queued; whichever holds the lock sends
everything, the others find nothing left. A batch sent but not yet removed (the worker died
in between) is sent again with the same retry key, and LINE drops the duplicate (409).

Why Redis and not rows: the pushes were RQ jobs, on the same Redis (AOF), so they are as
durable as before; a list per person is one key, and nothing here must commit with a turn
(the outbox row already does). The list expires a week after its last push was queued.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from storage.errors import Unavailable
from storage.keys import pushes_drain_key, pushes_key
from storage.locks import drain_lock
from storage.redis_client import translated

log = logging.getLogger(__name__)

DRAIN_LOCK_SECONDS = 120  # a drain that died frees the user's pushes after this
DRAIN_WAIT_SECONDS = 10
KEEP_SECONDS = 7 * 24 * 3600


class PushesBusy(Unavailable):
    """Another job is sending this user's pushes and did not finish in time (retry later)."""


@dataclass(frozen=True)
class Push:
    """One batch waiting: LINE messages (at most five) and the retry key they are sent with."""

    retry_key: str
    messages: list[dict]
    queued_at: float


@translated
def add(client: redis.Redis, user_id: str, batches: Sequence[tuple[str, list[dict]]], now: float) -> None:
    """Append ``(retry_key, messages)`` batches to the user's pushes, in order (one transaction)."""
    key = pushes_key(user_id)
    pipe = client.pipeline(transaction=True)
    pipe.rpush(key, *(json.dumps({"key": retry_key, "messages": messages, "at": now}, ensure_ascii=False)
                      for retry_key, messages in batches))
    pipe.expire(key, KEEP_SECONDS)
    pipe.execute()


@translated
def pending(client: redis.Redis, user_id: str) -> int:
    """How many batches wait for this user."""
    return client.llen(pushes_key(user_id))


@translated
def drain(client: redis.Redis, user_id: str, send: Callable[[Push], None], wait: float = DRAIN_WAIT_SECONDS) -> int:
    """Send the user's waiting pushes oldest first with ``send``; how many were handed to it.

    Raises what ``send`` raised (the batch stays first, for the retry) or ``PushesBusy``.
    """
    key = pushes_key(user_id)
    sent = 0
    with drain_lock(client, pushes_drain_key(user_id), DRAIN_LOCK_SECONDS, wait, PushesBusy):
        while (raw := client.lindex(key, 0)) is not None:
            try:
                item = json.loads(raw)
                push = Push(str(item["key"]), list(item["messages"]), float(item["at"]))
            except (ValueError, KeyError, TypeError):
                log.error("a waiting push could not be read; dropped")
                push = None
            if push is not None:
                send(push)
                sent += 1
            client.lpop(key)  # only the lock's holder removes, so the first is still this one
    return sent
