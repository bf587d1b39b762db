"""POST /callback: verify the signature, translate each event, queue it durably, answer 200.

Nothing else happens in the request, as LINE recommends: the turns run in the event
workers (``handlers.line.events``), so a slow database or a slow LINE API never holds up
the webhook. Each event's ``webhookEventId`` is claimed and the event appended to its
user's partition of the queue in one step (``storage.events``); when that cannot be done
(Redis down, a partition over its limit) the answer is 503 and LINE redelivers: events
already queued are then recognised by their id, the rest are queued.

The body is read as JSON once, after the signature check, and only the fields the bot
uses are kept (the SDK's webhook models are not built: they cost more than the turn).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import orjson
from flask import Blueprint, abort, current_app, g, request
from linebot.v3 import WebhookParser

from bot.types import EventKind
from handlers import logs, metrics
from storage.events import EventQueue, QueueFull
from storage.state import StateUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__)

_MEDIA = frozenset({"image", "video", "audio", "file", "location"})


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def translate(raw) -> dict | None:
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
    return {
        "id": event_id[:64], "user": user_id, "kind": str(kind), "text": text, "postback": postback,
        "nonce": nonce, "ok": ok, "reply": _str(raw.get("replyToken")),
        "ts": timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else 0,
        "queued": time.time(), "request_id": logs.current_request_id(),
    }


@bp.before_request
def _start_timer() -> None:
    g.webhook_started = time.perf_counter()


@bp.after_request
def _observe(response):
    started = g.get("webhook_started")
    if started is not None:
        metrics.WEBHOOK_SECONDS.labels(str(response.status_code)).observe(time.perf_counter() - started)
    return response


@bp.post("/callback")
def callback():
    """LINE's webhook: verified, queued, answered."""
    signature = request.headers.get("X-Line-Signature", "")
    if not signature:
        abort(400, "missing signature")
    body = request.get_data(as_text=True)
    parser: WebhookParser = current_app.extensions["line_parser"]
    if not parser.signature_validator.validate(body, signature):
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
            if not queue.enqueue(event["id"], event["user"], orjson.dumps(event)):
                log.info("duplicate event %s ignored", event["id"])
        except (StateUnavailable, QueueFull) as exc:
            failed += 1
            log.error("event not queued (%s); asking LINE to redeliver", exc.__class__.__name__)
    if failed:
        return "temporarily unavailable", 503
    return "OK"
