"""The Redis client the service runs on, and the one error its users see when Redis fails.

``make_redis`` connects to ``REDIS_URL`` (``storage.redis_url``: plain or Sentinel); with none it
gives an in-process fakeredis (``make run`` only). ``StateUnavailable`` is what the rooms built on
the client raise when Redis cannot be reached or answers with an error (``storage.state``,
``storage.limits``, ``storage.events``; ``translated`` does it for ``storage.link_attempts``
and ``storage.pushes``), so an edge catches one name, not redis-py's tree.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis

from storage.errors import Unavailable
from storage.redis_url import connect

log = logging.getLogger(__name__)


P = ParamSpec("P")
R = TypeVar("R")


class StateUnavailable(Unavailable):
    """Redis could not be reached or answered with an error."""


def translated(function: Callable[P, R]) -> Callable[P, R]:
    """A storage function whose Redis errors reach its callers as ``StateUnavailable``."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except redis.RedisError as exc:
            raise StateUnavailable("redis unavailable") from exc
    return wrapper


def make_redis(url: str | None) -> redis.Redis:
    """A Redis client for ``url``; with none, an in-process fakeredis (one process only)."""
    if url:
        return connect(url)  # plain redis:// or redis+sentinel:// (docs/deployment.md)
    import fakeredis  # only for make run

    log.warning("REDIS_URL is not set: using an IN-PROCESS stand-in for Redis. "
                "State, locks and jobs live in this one process only. Never run production like this.")
    return fakeredis.FakeRedis()
