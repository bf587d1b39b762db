"""One push of a prepared notice body to LINE, and what LINE's answer means for it.

``push_client`` is made once per app from the Messaging API client's own pool manager (its TLS
settings, proxy and credentials); ``push_notice`` sends the bytes ``template`` built, with the
row's ``X-Line-Retry-Key``, and sorts the answer into ``SENT``, ``RETRY``, ``RATE_LIMITED``,
``QUOTA``, ``STOP`` or ``FAIL``. What follows from each is the batch job's business (``batch``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import urllib3
import urllib3.connectionpool
from flask import Flask, current_app

from handlers.line.notices.config import settings

SENT, RETRY, RATE_LIMITED, QUOTA, STOP, FAIL = "sent", "retry", "rate", "quota", "stop", "fail"
PUSH_PATH = "/v2/bot/message/push"
MONTHLY_LIMIT = "You have reached your monthly limit."


def _error_message(body: bytes | str | None) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return str(json.loads(body or "{}").get("message", ""))
    except (ValueError, AttributeError):
        return ""


@dataclass(frozen=True)
class PushClient:
    """Where prepared bodies go: a connection pool of the Messaging API client's own pool manager
    (its TLS settings and proxy), the push URL and the client's credentials."""

    pool: urllib3.connectionpool.HTTPConnectionPool
    target: str  # the request target: the push path (or the whole URL, through a plain-HTTP proxy)
    headers: dict[str, str]


def push_client(app: Flask | None = None) -> PushClient:
    """The push client of this app, made once from ``line_messaging_api``'s ``ApiClient``, its
    pool keeping as many connections alive as a batch has pushes in flight (the SDK keeps 10: more
    would each open a connection and be thrown away, with a warning, after one push)."""
    app = app or current_app
    client = app.extensions.get("notice_push_client")
    if client is None:
        api = app.extensions["line_messaging_api"].api_client
        url = api.configuration.host + PUSH_PATH
        pool = api.rest_client.pool_manager.connection_from_url(
            url, pool_kwargs={"maxsize": max(settings(app).concurrency, 10)})
        headers = {**api.default_headers, "User-Agent": api.user_agent, "Content-Type": "application/json",
                   "Accept": "application/json"}
        # The request target as urllib3's PoolManager would write it: the path, or the whole URL
        # to a plain-HTTP proxy.
        through_proxy = pool.proxy is not None and pool.scheme == "http"
        if through_proxy:
            headers.update(getattr(api.rest_client.pool_manager, "proxy_headers", None) or {})
        client = PushClient(pool, url if through_proxy else urllib3.util.parse_url(url).request_uri, headers)
        app.extensions["notice_push_client"] = client
    return client


def push_notice(client: PushClient, body: bytes, retry_key: str, timeout: float) -> tuple[str, str]:
    """Push one prepared notice body; return what happened (``SENT``, ``RETRY``, …) and the error.

    The bytes go out as they are, through the SDK client's pool: the SDK would validate the
    message into pydantic models and serialise it back, which cost more than everything else
    a notice does; the template was checked against those models once. 409 (the key
    was accepted before), 429 (slow down, or the monthly limit) and 4xx mean different things.
    """
    try:
        response = client.pool.urlopen("POST", client.target, body=body,
                                        headers={**client.headers, "X-Line-Retry-Key": retry_key},
                                        timeout=urllib3.Timeout(connect=2, read=timeout), redirect=False,
                                        assert_same_host=False)
    except Exception as exc:  # noqa: BLE001 - timeouts and connection errors: LINE may or may not have it
        return RETRY, exc.__class__.__name__[:60]
    status = response.status
    if 200 <= status < 300:
        return SENT, ""
    if status == 409:
        return SENT, "http_409"
    if status == 429:
        return (QUOTA, "monthly_limit") if MONTHLY_LIMIT in _error_message(response.data) else (RATE_LIMITED,
                                                                                                 "http_429")
    if status >= 500:
        return RETRY, f"http_{status}"
    if status in (401, 403):
        return STOP, f"http_{status}"
    return FAIL, f"http_{status}"
