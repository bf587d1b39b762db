"""Redis connections from ``REDIS_URL``: a plain ``redis://``/``rediss://`` URL, or Redis Sentinel.

Sentinel: ``redis+sentinel://[:password@]host1:26379,host2:26379,host3:26379/<service>[/<db>]``
(the password, if any, is the data nodes' and the sentinels'). The client asks the
sentinels for the current master of ``<service>`` and follows a failover by itself. Every
client the service makes goes through ``connect`` (RQ's worker once took the URL to
``redis.Redis.from_url``, which refuses the scheme, and died at start).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from storage.errors import Misconfigured

SENTINEL_SCHEME = "redis+sentinel"
# One quick retry (a pooled connection the server dropped while idle), then the caller hears of
# it: redis-py's own default, ten retries with backoff up to a second each, held a webhook for
# 3 s against a Redis that refused connections, and for half a minute against one that hung.
RETRY = Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
CLIENT_OPTIONS = {"socket_timeout": 3, "socket_connect_timeout": 3, "health_check_interval": 30, "retry": RETRY}


class RedisUrlError(Misconfigured, ValueError):
    """A ``REDIS_URL`` that cannot be used (said at start-up)."""


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    """(sentinel addresses, service name, db number, password) of a ``redis+sentinel://`` URL."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    password = unquote(parts.password) if parts.password else None
    hosts = []
    for item in filter(None, netloc.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
        try:
            hosts.append((host.strip("[]"), int(port or 26379)))
        except ValueError:
            raise RedisUrlError(f"REDIS_URL: sentinel port {port!r} is not a number") from None
    path = [p for p in parts.path.split("/") if p]
    if not hosts or not path:
        raise RedisUrlError("REDIS_URL: redis+sentinel://host:26379,host2:26379/<service>[/<db>] expected")
    try:
        db = int(path[1]) if len(path) > 1 else 0
    except ValueError:
        raise RedisUrlError("REDIS_URL: the database after the service name must be a number") from None
    return hosts, path[0], db, password


# RQ's own connection waits for jobs in a long blocking pop: no read timeout (with 3 s, RQ would
# take the quiet for an outage and quit), but a connect timeout and keepalive all the same.
BLOCKING_OPTIONS = {"socket_timeout": None, "socket_connect_timeout": 3, "socket_keepalive": True,
                    "health_check_interval": 30, "retry": RETRY}


def connect(url: str, blocking: bool = False) -> redis.Redis:
    """The one way the service makes a Redis client (web, event workers, RQ and its scheduler):
    short timeouts, so a Redis that hangs cannot hang a webhook; ``blocking`` for RQ's worker."""
    options = BLOCKING_OPTIONS if blocking else CLIENT_OPTIONS
    if url.startswith(SENTINEL_SCHEME + "://"):
        hosts, service, db, password = parse_sentinel_url(url)
        sentinel_options = {"socket_timeout": 3, "socket_connect_timeout": 3}
        if password:
            sentinel_options["password"] = password
        sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_options, **options)
        return sentinel.master_for(service, db=db, password=password, **options)
    return redis.Redis.from_url(url, **options)
