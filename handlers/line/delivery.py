"""Talking to LINE's Messaging API: the client, replies, pushes (as jobs), loading animation, link tokens.

A reply that LINE refuses (expired token, redelivery) or that fails on the wire is queued
as a push with a retry key, so the customer still gets it exactly once. Pushes wait in the
person's own list (``storage.pushes``) and one job at a time sends them in order
(``drain_pushes_job``); other edges ask for pushes with the ``PushReplies`` effect
(``jobs.perform``, performed by ``push_effect_job``) and never import this module.

The reply, the hot path of every turn, bypasses the SDK's models: its body is serialised
once with orjson and POSTed through the SDK client's own urllib3 pool, with the SDK client's
headers (``post_json``). ``ReplyMessageRequest.from_dict`` + serialisation cost more CPU than
the whole rest of a bill turn and add nothing to a body ``render`` already built in LINE's
shape (the bytes sent are the ones the SDK would send). Errors come back as the SDK's
``ApiException``. Pushes, the loading animation and link tokens still go through the SDK.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref

import orjson
import urllib3
from flask import current_app
from linebot.v3.messaging import (
    ApiException,
    MessagingApi,
    PushMessageRequest,
    ShowLoadingAnimationRequest,
)

from bot.types import PushReplies, from_json, replies_from_json
from handlers import clock, jobs, metrics
from handlers.line.render import MAX_MESSAGES, render
from storage import link_attempts, pushes
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = (2, 5)  # connect, read (seconds)
PROFILE_TIMEOUT = (1, 2)  # the display name on the link page is cosmetic: never hold the reply up long
PUSH_MAX_AGE_SECONDS = 24 * 3600  # a push LINE has not taken in a day is dropped, not sent late
_TIMEOUT = urllib3.Timeout(connect=REQUEST_TIMEOUT[0], read=REQUEST_TIMEOUT[1])


def mask_user(user_id: str) -> str:
    """LINE user IDs in logs: enough to correlate, not the whole identifier."""
    return f"{user_id[:5]}…{user_id[-4:]}" if len(user_id) > 10 else "…"


def messaging_api() -> MessagingApi:
    """The app's Messaging API client: one per process, so connections to LINE are reused
    (a new client per call would pay a TCP and TLS handshake for every reply)."""
    return current_app.extensions["line_messaging_api"]


def _pool_of(client) -> tuple[urllib3.HTTPConnectionPool, str] | None:
    """The SDK client's own connection pool to the API host and the host's path prefix
    (looked up once: the pool manager parses the URL and picks the pool on every call), or
    None behind a proxy, where the pool manager must route each request."""
    manager = client.rest_client.pool_manager
    if manager not in _POOLS:
        if isinstance(manager, urllib3.ProxyManager):
            _POOLS[manager] = None
        else:
            url = urllib3.util.parse_url(client.configuration.host)
            _POOLS[manager] = (manager.connection_from_url(client.configuration.host), (url.path or "").rstrip("/"))
    return _POOLS[manager]


# Per pool manager, forgotten with it (each app has its own client).
_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def post_json(path: str, body: dict) -> None:
    """POST ``body`` as JSON to the Messaging API through the SDK client's connection pool and
    headers, without its models; a non-2xx answer raises the SDK's ``ApiException``."""
    client = messaging_api().api_client
    headers = dict(client.default_headers)
    headers["Content-Type"] = "application/json"
    pool = _pool_of(client)
    if pool is None:
        response = client.rest_client.pool_manager.request(
            "POST", client.configuration.host + path, body=orjson.dumps(body), headers=headers, timeout=_TIMEOUT)
    else:
        connections, prefix = pool
        response = connections.urlopen("POST", prefix + path, body=orjson.dumps(body), headers=headers,
                                       timeout=_TIMEOUT, redirect=False, assert_same_host=False,
                                       preload_content=True)
    if not 200 <= response.status <= 299:
        exc = ApiException(status=response.status, reason=response.reason)
        exc.body = response.data.decode("utf-8", "replace")
        raise exc


def start_loading(user_id: str) -> None:
    """Show LINE's loading animation in the user's chat (cosmetic: failures are ignored)."""
    try:
        messaging_api().show_loading_animation(ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=5),
                                               _request_timeout=REQUEST_TIMEOUT)
    except Exception:  # noqa: BLE001 - cosmetic; never fail a reply over it
        log.info("loading animation not shown")


def _display_name(user_id: str) -> str | None:
    """The LINE display name to show on the link page (cosmetic: None when LINE will not say)."""
    try:
        return messaging_api().get_profile(user_id, _request_timeout=PROFILE_TIMEOUT).display_name
    except Exception:  # noqa: BLE001 - the page then shows a masked user id
        log.info("no LINE profile for the link page of %s", mask_user(user_id))
        return None


def link_url(user_id: str) -> str | None:
    """Issue a LINE link token, keep it in a link attempt of ours (``storage.link_attempts``) and
    return the start URL, which carries only the attempt's random id, never the link token."""
    token = messaging_api().issue_link_token(user_id, _request_timeout=REQUEST_TIMEOUT).link_token
    now = clock.now().timestamp()
    attempt_id = link_attempts.create(current_app.extensions["redis"], token, user_id, _display_name(user_id), now)
    return f"{current_app.config['PUBLIC_BASE_URL']}/link/start?t={attempt_id}"


def deliver(user_id: str, reply_token: str | None, messages: list[dict], key_base: str | None = None,
            recovered: bool = False) -> str:
    """Reply (first 5 messages) or, failing that, queue pushes; the rest go as pushes.

    ``key_base`` (the event id) makes the pushes' retry keys the same on every attempt, so
    a worker that takes over a half-delivered turn cannot push twice. ``recovered``: this
    turn's answer may already have gone out; LINE refusing the (still fresh) reply token
    then means our first attempt used it, and nothing more is sent. Returns how it went:
    ``reply``, ``push`` or ``none``.
    """
    if not messages:
        return "none"
    first, rest = messages[:MAX_MESSAGES], messages[MAX_MESSAGES:]
    replied = False
    if reply_token:
        try:
            # The fields the SDK's ReplyMessageRequest would send (notificationDisabled: its default).
            post_json("/v2/bot/message/reply",
                      {"replyToken": reply_token, "messages": first, "notificationDisabled": False})
            replied = True
            metrics.count_reply("sent")
        except ApiException as exc:
            metrics.count_reply("refused")
            if recovered and exc.status == 400:
                log.info("reply token already used for %s: the answer went out before the takeover",
                         mask_user(user_id))
                replied = True
            else:
                log.warning("reply refused by LINE (status %s) for %s; pushing instead", exc.status,
                            mask_user(user_id))
        except Exception as exc:  # noqa: BLE001 - network trouble: fall back to a retried push
            metrics.count_reply("failed")
            log.warning("reply failed (%s) for %s; pushing instead", exc.__class__.__name__, mask_user(user_id))
    queue_pushes(user_id, rest if replied else messages, key_base, offset=1 if replied else 0)
    return "reply" if replied else "push"


def push_now(user_id: str, messages: list[dict], retry_key: str) -> None:
    """Push messages right now (used by jobs); raises so the job is retried.

    LINE answers 409 to a retry key it has already accepted: that push was delivered.
    """
    try:
        messaging_api().push_message(PushMessageRequest.from_dict({"to": user_id, "messages": messages}),
                                     x_line_retry_key=retry_key, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status == 409:
            metrics.count_push("duplicate")
            return
        if exc.status == 400:
            metrics.count_push("refused")
            log.error("LINE refused a push as invalid (400); not retrying")
            return
        metrics.count_push("quota" if exc.status == 429 else "failed")
        raise
    except Exception:
        metrics.count_push("failed")
        raise
    metrics.count_push("sent", len(messages))


def push_job(user_id: str, messages: list[dict], retry_key: str) -> None:
    """One push on its own (pushes queued before they went through the user's list, and the
    fallback when Redis cannot take the list); the retry key makes LINE drop a duplicate."""
    push_now(user_id, messages, retry_key)


def drain_pushes_job(user_id: str) -> None:
    """Send the user's waiting pushes oldest first (``storage.pushes``); a push that fails stops
    here and the job is retried, so nothing the person is sent overtakes it."""
    pushes.drain(current_app.extensions["redis"], user_id, lambda push: _send(user_id, push))


def _send(user_id: str, push: pushes.Push) -> None:
    if time.time() - push.queued_at > PUSH_MAX_AGE_SECONDS:
        metrics.count_push("expired")
        log.error("a push for %s waited more than a day for LINE; dropped", mask_user(user_id))
        return
    push_now(user_id, push.messages, push.retry_key)


def push_replies_job(user_id: str, replies: list[dict]) -> None:
    """Push reply values (``bot.types.replies_to_json``) to a LINE user: what other edges queued by path
    before the ``PushReplies`` effect; kept so jobs already queued that way still run.

    It renders them here and queues them behind the user's other pushes, in batches of five.
    """
    queue_pushes(user_id, render(replies_from_json(replies)))


def push_effect_job(user_id: str, replies: list[dict]) -> None:
    """The ``PushReplies`` effect's job: pushes a turn or another edge asked for (its fields as arguments)."""
    effect = from_json([{"type": PushReplies.__name__, "user_id": user_id, "replies": replies}])[0]
    queue_pushes(effect.user_id, render(list(effect.replies)))


def retry_key(key_base: str | None, batch: int) -> str:
    """A push's ``X-Line-Retry-Key``: derived from ``key_base`` (stable across attempts) or random."""
    if key_base is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aicom-line-push:{key_base}:{batch}"))


def queue_pushes(user_id: str, messages: list[dict], key_base: str | None = None, offset: int = 0) -> None:
    """Queue LINE messages behind the user's other pushes, in batches of at most 5, each with its
    own retry key, and a job to send them. Redis unable to take them: each batch is queued as a
    job of its own (``jobs.enqueue`` sends it at once when the queue is down too)."""
    batches = [(retry_key(key_base, n + offset), messages[i:i + MAX_MESSAGES])
               for n, i in enumerate(range(0, len(messages), MAX_MESSAGES))]
    if not batches:
        return
    try:
        pushes.add(current_app.extensions["redis"], user_id, batches, time.time())
    except StateUnavailable as exc:
        log.warning("push list unreachable (%s) for %s; pushing on its own", exc.__class__.__name__,
                    mask_user(user_id))
        for key, batch in batches:
            jobs.enqueue(push_job, user_id=user_id, messages=batch, retry_key=key)
        return
    jobs.enqueue(drain_pushes_job, user_id=user_id)
