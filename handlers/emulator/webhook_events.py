"""Webhooks as LINE sends them: build an event, sign the body, post it to our own ``/callback``.

``build_event`` writes every field LINE sends for a text, postback, sticker, image, follow,
unfollow or accountLink event; ``deliver_event`` wraps it in a body for the bot's
``destination``, signs it with the channel secret (``sign``), logs it in the page's
``timeline``, remembers its reply token in the ``redis_recorder`` (so the fake LINE knows whose
reply it is) and POSTs it over HTTP to ``/callback``, so the real LINE edge runs exactly as it
would behind LINE. The page's routes (``page``) call these; the tests build and sign with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request

from handlers.emulator.loopback import is_loopback
from handlers.emulator.redis_recorder import EmulatorRecorder
from handlers.emulator.timeline import EmulatorLog

log = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 30  # the handler may wait up to 10 s for a user's lock, then work
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# -- webhook bodies, as LINE builds them ------------------------------------------------------
def ulid(now_ms: int | None = None) -> str:
    """A ULID (26 Crockford base32 characters: 48-bit time, 80 random bits), like webhookEventId."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (now_ms << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _message_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)  # LINE's message IDs: 18 digits


def build_event(user_id: str, event_type: str, *, text: str = "", data: str = "", link: dict | None = None,
                now_ms: int | None = None) -> dict:
    """One webhook event of ``event_type`` from ``user_id``, with every field LINE sends.

    ``accountLink`` takes ``link`` ({"result": "ok" | "failed", "nonce": ...}).
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    event: dict[str, Any] = {"type": "message" if event_type in ("text", "sticker", "image") else event_type}
    if event_type == "text":
        event["message"] = {"type": "text", "id": _message_id(), "quoteToken": secrets.token_urlsafe(64)[:86],
                            "text": text}
    elif event_type == "sticker":
        event["message"] = {"type": "sticker", "id": _message_id(), "quoteToken": secrets.token_urlsafe(64)[:86],
                            "stickerId": "52002734", "packageId": "11537", "stickerResourceType": "STATIC",
                            "keywords": ["OK", "Thanks"]}
    elif event_type == "image":
        event["message"] = {"type": "image", "id": _message_id(), "quoteToken": secrets.token_urlsafe(64)[:86],
                            "contentProvider": {"type": "line"}}
    elif event_type == "postback":
        event["postback"] = {"data": data}
    elif event_type == "follow":
        event["follow"] = {"isUnblocked": False}
    elif event_type == "accountLink":
        event["link"] = dict(link or {"result": "failed", "nonce": ""})
    event.update({
        "webhookEventId": ulid(now_ms),
        "deliveryContext": {"isRedelivery": False},
        "timestamp": now_ms,
        "source": {"type": "user", "userId": user_id},
        "mode": "active",
    })
    # LINE gives no reply token for an unfollow, nor for an account link that failed.
    if event_type != "unfollow" and not (event_type == "accountLink" and event["link"].get("result") != "ok"):
        event["replyToken"] = secrets.token_hex(16)
    return event


def sign(body: bytes, channel_secret: str) -> str:
    """``X-Line-Signature``: base64 of HMAC-SHA256 over the raw body with the channel secret."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def is_line_user_id(value: Any) -> bool:
    """A LINE user ID: U followed by 32 lower-case hex digits."""
    return (isinstance(value, str) and len(value) == 33 and value[0] == "U"
            and all(c in "0123456789abcdef" for c in value[1:]))


# -- posting them to /callback ----------------------------------------------------------------
def callback_url() -> str:
    """Where our own /callback listens: the host the page came from when it is loopback, else PUBLIC_BASE_URL."""
    host = urlsplit(request.host_url).hostname or ""
    if host == "localhost" or is_loopback(host):
        return request.host_url.rstrip("/") + "/callback"
    return current_app.config["PUBLIC_BASE_URL"] + "/callback"


def deliver_event(user_id: str, label: str, event: dict, display: str | None = None,
                  background: bool = False) -> tuple[int, str]:
    """Sign one event as LINE would, log it for the page, POST it to /callback; (status, response text).

    ``background`` (what the page asks for) posts from a thread and answers (202, "queued") at
    once: under gunicorn's sync workers a request waiting for /callback holds its worker, and
    /callback's own reply to the fake LINE would wait for a free worker until it timed out.
    How /callback answered still reaches the page, as the timeline's ``callback`` entry.
    """
    recorder: EmulatorRecorder = current_app.extensions["emulator_recorder"]
    if event.get("replyToken"):
        recorder.remember_reply_token(event["replyToken"], user_id)
    body = json.dumps({"destination": current_app.extensions["emulator_destination"], "events": [event]},
                      ensure_ascii=False, separators=(",", ":")).encode()
    signature = sign(body, current_app.config["LINE_CHANNEL_SECRET"])
    timeline: EmulatorLog = current_app.extensions["emulator_log"]
    timeline.add("webhook", users=[user_id], event=label, body=json.loads(body), raw=body.decode(),
                 signature=signature, displayText=display)
    url = callback_url()
    if background:
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def post() -> None:
            with app.app_context():
                status, answer = _post_callback(url, body, signature)
                timeline.add("callback", users=[user_id], status=status, response=answer)

        threading.Thread(target=post, name="emulator-webhook", daemon=True).start()
        return 202, "queued"
    status, answer = _post_callback(url, body, signature)
    timeline.add("callback", users=[user_id], status=status, response=answer)
    return status, answer


def _post_callback(url: str, body: bytes, signature: str) -> tuple[int, str]:
    """POST the webhook over HTTP; (status, response text), status 0 when nothing answered."""
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "X-Line-Signature": signature,
        "User-Agent": "LineBotWebhook/2.0",
    })
    try:
        with urllib.request.urlopen(req, timeout=CALLBACK_TIMEOUT_SECONDS) as response:  # noqa: S310 - our own URL
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        log.warning("emulator could not reach /callback (%s)", exc.__class__.__name__)
        return 0, f"could not reach {url}: {exc.__class__.__name__}"
