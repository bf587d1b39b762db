"""POST /callback: verify the signature, translate each event, queue it durably, answer 200.

Nothing else happens in the request, as LINE recommends: the turns run in the event
workers (``handlers.line.worker``), so a slow database or a slow LINE API never holds up
the webhook. Each event's ``webhookEventId`` is claimed and the event appended to its
user's partition of the queue in one step (``storage.events``); when that cannot be done
(Redis down, a partition over its limit) the answer is 503 and LINE redelivers: events
already queued are then recognised by their id, the rest are queued.

The body is read as JSON once, after the signature check, and only the fields the bot
uses are kept (the SDK's webhook models are not built: they cost more than the turn).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import orjson
from flask import Blueprint, abort, current_app, g, request

from bot.types import EventKind
from handlers import logs, metrics
from handlers.line.queued import QueuedEvent
from storage.events import EventQueue, QueueFull
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__)

_MEDIA = frozenset({"image", "video", "audio", "file", "location"})


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def translate(raw) -> QueuedEvent | None:
    """The queued form of one webhook event, or None for events the bot takes no part in
    (standby mode, groups and rooms, event types it does not handle, malformed shapes)."""
    if not isinstance(raw, dict) or raw.get("mode") == "standby":
        return None
    source = raw.get("source")
    if not isinstance(source, dict) or source.get("type", "user") != "user":
        return None  # groups and rooms: the bot talks one to one only
    user_id = _str(source.get("userId"))
    if not user_id:
        return None
    kind, text, postback, nonce, ok = None, "", "", "", False
    event_type = raw.get("type")
    message = raw.get("message") if isinstance(raw.get("message"), dict) else {}
    metrics.count_event(_str(event_type), _str(message.get("type")) or None if event_type == "message" else None)
    if event_type == "message":
        if message.get("type") == "text":
            kind, text = EventKind.TEXT, _str(message.get("text"))
        elif message.get("type") == "sticker":
            kind = EventKind.STICKER
        elif message.get("type") in _MEDIA:
            kind = EventKind.MEDIA
        else:
            return None
    elif event_type == "postback":
        data = raw.get("postback") if isinstance(raw.get("postback"), dict) else {}
        kind, postback = EventKind.POSTBACK, _str(data.get("data"))
        text = postback
    elif event_type == "follow":
        kind = EventKind.FOLLOW
    elif event_type == "unfollow":
        kind = EventKind.UNFOLLOW
    elif event_type == "accountLink":
        link = raw.get("link") if isinstance(raw.get("link"), dict) else {}
        kind, nonce, ok = EventKind.ACCOUNT_LINK, _str(link.get("nonce")), link.get("result") == "ok"
    else:
        return None
    timestamp = raw.get("timestamp")
    event_id = _str(raw.get("webhookEventId"))
    if not event_id:  # every event LINE sends has one; without it, the body itself identifies it
        event_id = "h-" + hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:40]
    return QueuedEvent(
        id=event_id[:64], user=user_id, kind=kind, text=text, postback=postback, nonce=nonce, ok=ok,
        reply=_str(raw.get("replyToken")),
        ts=timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else 0,
        queued=time.time(), request_id=logs.current_request_id())


@bp.before_request
def _start_timer() -> None:
    g.webhook_started = time.perf_counter()


@bp.after_request
def _observe(response):
    started = g.get("webhook_started")
    if started is not None:
        metrics.WEBHOOK_SECONDS.labels(str(response.status_code)).observe(time.perf_counter() - started)
    return response


def _raw_body() -> bytes:
    """The body's raw bytes; over ``MAX_CONTENT_LENGTH`` (1 MiB) is 413, a chunked body too. For a
    chunked body (no Content-Length; gunicorn marks the input terminated) Werkzeug would silently
    cut the body at the limit, which would then read as a bad signature."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and request.environ.get("wsgi.input_terminated") and limit:
        body = request.environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            abort(413)
        return body
    return request.get_data()


def signature_matches(secret: str, body: bytes, signature: str) -> bool:
    """LINE's signature: base64 of HMAC-SHA256 over the body's raw bytes (never over decoded text,
    where bytes that are not UTF-8 would be replaced), compared in constant time."""
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape"))


@bp.post("/callback")
def callback():
    """LINE's webhook: verified, queued, answered."""
    signature = request.headers.get("X-Line-Signature", "")
    if not signature:
        abort(400, "missing signature")
    body = _raw_body()
    if not signature_matches(current_app.config["LINE_CHANNEL_SECRET"], body, signature):
        log.warning("webhook with a bad signature refused")
        abort(400, "bad signature")
    try:
        events = orjson.loads(body)["events"]
        if not isinstance(events, list):
            raise TypeError("events is not a list")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # signed but malformed: the sender's fault
        log.warning("signed webhook body could not be parsed (%s)", exc.__class__.__name__)
        abort(400, "malformed body")
    queue: EventQueue = current_app.extensions["event_queue"]
    failed = 0
    for raw in events:
        event = translate(raw)
        if event is None:
            continue
        try:
            if not queue.enqueue(event.id, event.user, event.to_json()):
                log.info("duplicate event %s ignored", event.id)
        except (StateUnavailable, QueueFull) as exc:
            failed += 1
            log.error("event not queued (%s); asking LINE to redeliver", exc.__class__.__name__)
    if failed:
        return "temporarily unavailable", 503
    return "OK"
