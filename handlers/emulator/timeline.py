"""The emulator page's timeline: everything the page shows, in order, kept in Redis.

Webhooks posted (``webhook_events``), how ``/callback`` answered, each Messaging API call the
fake LINE answered (``redis_recorder``) and the staff pane's entries (``staff``) are added here;
the page polls them back through ``page`` (``GET /emulator/api/log``, ``/emulator/api/messages``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from storage import keys

LOG_SIZE = 2000  # entries kept for the page; older ones fall off

# Every process (gunicorn workers, `flask worker`) writes into and reads from the same Redis
# (the in-process stand-in under `make run`), so the page shows all of it whichever process
# served the webhook, the API call or the job. Keys (``storage.keys``) expire after a day without activity.
EMULATOR_TTL_SECONDS = 24 * 3600

# One step: the next sequence number, the entry under it, the oldest dropped, both keys kept alive.
_ADD_LUA = """
local seq = redis.call('incr', KEYS[1])
redis.call('zadd', KEYS[2], seq, seq .. ':' .. ARGV[1])
redis.call('zremrangebyrank', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('expire', KEYS[1], tonumber(ARGV[3]))
redis.call('expire', KEYS[2], tonumber(ARGV[3]))
return seq
"""


class EmulatorLog:
    """Everything the page shows, in order: webhooks posted, Messaging API calls, staff pane entries.

    A bounded sorted set in Redis scored by a shared sequence number (written in one Lua step,
    so no reader ever sees a later entry before an earlier one).
    """

    def __init__(self, client: redis.Redis, size: int = LOG_SIZE) -> None:
        self.redis = client
        self.size = size
        self._add = client.register_script(_ADD_LUA)

    def add(self, kind: str, **fields: Any) -> dict:
        entry = {"at": time.time(), "kind": kind, **fields}
        raw = json.dumps(entry, ensure_ascii=False, default=str)
        seq = int(self._add(keys=[keys.EMULATOR_SEQ_KEY, keys.EMULATOR_LOG_KEY],
                            args=[raw, self.size, EMULATOR_TTL_SECONDS]))
        return {"seq": seq, **entry}

    def after(self, seq: int) -> tuple[list[dict], int]:
        """Entries newer than ``seq`` and the newest sequence number."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrangebyscore(keys.EMULATOR_LOG_KEY, f"({seq}", "+inf")
        pipe.get(keys.EMULATOR_SEQ_KEY)
        members, last = pipe.execute()
        entries = []
        for member in members:
            text = member.decode() if isinstance(member, bytes) else member
            number, _, raw = text.partition(":")
            entries.append({"seq": int(number), **json.loads(raw)})
        return entries, int(last or 0)
