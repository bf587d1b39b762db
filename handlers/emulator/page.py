"""The local LINE emulator at /emulator (``EMULATOR=1``, on under ``make run``).

LINE has no local emulator, so this one stands in for the LINE app and LINE's servers:

- the page (``GET /emulator``) is a phone-sized chat plus panes (mailbox, raw log, ...);
- ``POST /emulator/api/send`` builds a real webhook body (every field LINE sends), signs
  it with the channel secret and posts it over HTTP to our own ``/callback``, so the real
  handler runs exactly as it would behind LINE;
- the bot answers through the real line-bot-sdk client to the fake Messaging API mounted
  at ``/emulator/line`` (``LINE_API_BASE_URL`` points there), which validates each call as
  LINE would and records it; ``GET /emulator/api/log`` hands the page what happened since
  its last poll (webhooks posted, API calls with status and errors);
- ``GET /emulator/api/mailbox`` shows the development mailbox (mail when ``SMTP_URL`` is unset);
- ``GET /emulator/account-link`` stands in for LINE's account-link dialog
  (``LINE_ACCOUNT_LINK_URL`` points there): the web login sends the browser to it with
  ``linkToken`` and ``nonce``, and it posts the ``accountLink`` event LINE would send for
  the user the link token was issued to (``result`` ``failed`` once the token is used or
  older than 10 minutes; an unknown token sends nothing, as LINE has no user to send it to).

Nothing in ``bot/`` knows any of this exists. Every route answers 404 when the emulator is
off (the blueprint is never registered) and 403 to clients other than loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request

from bot import demo as demo_data
from handlers.emulator import mailbox as dev_mailbox
from handlers.emulator.line_api_fake import (
    ApiCall,
    LineApiRecorder,
    RichMenuState,
    make_blueprint,
    make_data_blueprint,
)
from storage import keys

log = logging.getLogger(__name__)
bp = Blueprint("emulator", __name__)

CALLBACK_TIMEOUT_SECONDS = 30  # the handler may wait up to 10 s for a user's lock, then work
LOG_SIZE = 2000  # entries kept for the page; older ones fall off
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EVENT_TYPES = ("text", "postback", "sticker", "image", "follow", "unfollow")
DELIVERED_KINDS = ("reply", "push", "multicast")
LINK_TOKEN_SECONDS = 10 * 60  # LINE's link tokens: valid 10 minutes, single use
_LINK_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]{1,200}")
_NONCE_RE = re.compile(r"[\x21-\x7e]{10,255}")  # LINE asks for a nonce of 10-255 characters


# -- the page's timeline ----------------------------------------------------------------------
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


class _RedisHash(MutableMapping):
    """A dict kept in one Redis hash (values through ``dump``/``load``), shared by every process."""

    def __init__(self, redis, key: str, dump, load) -> None:
        self.redis, self.key, self._dump, self._load = redis, key, dump, load

    def __getitem__(self, name: str):
        raw = self.redis.hget(self.key, name)
        if raw is None:
            raise KeyError(name)
        return self._load(raw)

    def __setitem__(self, name: str, value) -> None:
        self.redis.hset(self.key, name, self._dump(value))

    def __delitem__(self, name: str) -> None:
        if not self.redis.hdel(self.key, name):
            raise KeyError(name)

    def __iter__(self):
        return iter([k.decode() if isinstance(k, bytes) else k for k in self.redis.hkeys(self.key)])

    def __len__(self) -> int:
        return int(self.redis.hlen(self.key))

    def __contains__(self, name) -> bool:
        return bool(self.redis.hexists(self.key, name))


def _image_dump(value: tuple[str, bytes]) -> bytes:
    return value[0].encode() + b"\n" + value[1]


def _image_load(raw: bytes) -> tuple[str, bytes]:
    content_type, _, data = raw.partition(b"\n")
    return content_type.decode(), data


class RedisRichMenus(RichMenuState):
    """The fake LINE's rich menus in Redis: a menu created through one web process, its image
    uploaded through another and shown by a third are the same menu (gunicorn, workers)."""

    def __init__(self, redis) -> None:  # noqa: D107 - not the dataclass's fields: Redis holds them
        self.redis = redis
        self.menus = _RedisHash(redis, keys.EMULATOR_RICHMENUS_KEY, lambda v: json.dumps(v, ensure_ascii=False),
                                json.loads)
        self.images = _RedisHash(redis, keys.EMULATOR_RICHMENU_IMAGES_KEY, _image_dump, _image_load)
        self.users = _RedisHash(redis, keys.EMULATOR_RICHMENU_USERS_KEY, str, lambda raw: raw.decode())

    @property
    def default(self) -> str | None:
        raw = self.redis.get(keys.EMULATOR_RICHMENU_DEFAULT_KEY)
        return raw.decode() if isinstance(raw, bytes) else raw

    @default.setter
    def default(self, value: str | None) -> None:
        if value is None:
            self.redis.delete(keys.EMULATOR_RICHMENU_DEFAULT_KEY)
        else:
            self.redis.set(keys.EMULATOR_RICHMENU_DEFAULT_KEY, value)

    def clear(self) -> None:
        self.redis.delete(keys.EMULATOR_RICHMENUS_KEY, keys.EMULATOR_RICHMENU_IMAGES_KEY,
                          keys.EMULATOR_RICHMENU_USERS_KEY, keys.EMULATOR_RICHMENU_DEFAULT_KEY)


class EmulatorRecorder(LineApiRecorder):
    """The fake Messaging API's recorder, also writing each call into the page's timeline.

    What the fake LINE must remember between calls (whose reply token, a spent reply or link
    token, retry keys, display names) is kept in Redis, so any process may answer any call.
    """

    def __init__(self, access_token: str, timeline: EmulatorLog) -> None:
        super().__init__(access_token)
        self.timeline = timeline
        self.redis = timeline.redis
        self.rich_menus = RedisRichMenus(self.redis)

    def remember_reply_token(self, token: str, user_id: str) -> None:
        self.redis.set(keys.emulator_key("reply", token), user_id, ex=3600)

    def reply_user(self, token: str) -> str | None:
        value = self.redis.get(keys.emulator_key("reply", token))
        return value.decode() if isinstance(value, bytes) else value

    def spend_reply_token(self, token: str) -> bool:
        return bool(self.redis.set(keys.emulator_key("reply-used", token), "1", nx=True, ex=3600))

    def seen_retry_key(self, key: str) -> bool:
        return not self.redis.set(keys.emulator_key("retry", key), "1", nx=True, ex=EMULATOR_TTL_SECONDS)

    def set_profile(self, user_id: str, display_name: str) -> None:
        self.redis.set(keys.emulator_key("profile", user_id), json.dumps(
            {"userId": user_id, "displayName": display_name, "language": "ja"}, ensure_ascii=False),
            ex=EMULATOR_TTL_SECONDS)

    def profile(self, user_id: str) -> dict:
        raw = self.redis.get(keys.emulator_key("profile", user_id))
        return json.loads(raw) if raw else super().profile(user_id)

    def spend_link_token(self, link_token: str, now: float | None = None) -> tuple[str, str | None]:
        """Use a link token once: ("ok" | "used" | "expired" | "unknown", the user it was issued to)."""
        now = time.time() if now is None else now
        raw = self.redis.get(keys.emulator_key("link", link_token))
        if not raw:
            return "unknown", None
        issued = json.loads(raw)
        used_key = keys.emulator_key("link-used", link_token)
        if self.redis.exists(used_key):
            return "used", issued["user"]
        if now - issued["at"] > LINK_TOKEN_SECONDS:
            return "expired", issued["user"]
        if not self.redis.set(used_key, "1", nx=True, ex=EMULATOR_TTL_SECONDS):
            return "used", issued["user"]
        return "ok", issued["user"]

    def record(self, call: ApiCall) -> None:
        super().record(call)
        if call.kind == "link_token" and call.status == 200 and isinstance(call.body, dict) and call.user_id:
            self.redis.set(keys.emulator_key("link", str(call.body.get("linkToken"))),
                           json.dumps({"user": call.user_id, "at": call.at}), ex=EMULATOR_TTL_SECONDS)
        self.timeline.add("api", api=call.kind, path=call.path, status=call.status, errors=list(call.errors),
                          body=call.body, users=self.call_users(call))

    def call_users(self, call: ApiCall) -> list[str]:
        """Whose chat a call shows in (a multicast: each ``to`` user), refused calls included."""
        body = call.body if isinstance(call.body, dict) else {}
        if call.kind == "multicast":
            return [u for u in body.get("to") or [] if isinstance(u, str)]
        if call.user_id:
            return [call.user_id]
        user_id = {"reply": self.reply_user(str(body.get("replyToken"))),
                   "push": body.get("to"), "loading": body.get("chatId")}.get(call.kind)
        return [user_id] if isinstance(user_id, str) else []


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


def _is_line_user_id(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 33 and value[0] == "U"
            and all(c in "0123456789abcdef" for c in value[1:]))


# -- guards -----------------------------------------------------------------------------------
def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@bp.before_request
def _loopback_only():
    """The emulator acts as LINE (it signs webhooks) and shows live 本登録 links: local use only."""
    if request.headers.get("X-Forwarded-For") or not _is_loopback(request.remote_addr):
        abort(403)
    return None


def _callback_url() -> str:
    """Where our own /callback listens: the host the page came from when it is loopback, else PUBLIC_BASE_URL."""
    host = urlsplit(request.host_url).hostname or ""
    if host == "localhost" or _is_loopback(host):
        return request.host_url.rstrip("/") + "/callback"
    return current_app.config["PUBLIC_BASE_URL"] + "/callback"


def slack_configured(config=None) -> bool:
    """Slack takes escalations when its three settings are set (then the staff pane stays empty)."""
    config = current_app.config if config is None else config
    return bool(config.get("SLACK_BOT_TOKEN") and config.get("SLACK_SIGNING_SECRET") and config.get("SLACK_CHANNEL_ID"))


# -- routes -----------------------------------------------------------------------------------
@bp.get("/emulator")
def page():
    """The emulator page (its script and styles are static files: the CSP forbids inline ones)."""
    return render_template("emulator.html", demo_customers=demo_customers(), slack_configured=slack_configured(),
                           destination=current_app.extensions["emulator_destination"])


@bp.post("/emulator/api/send")
def send():
    """Post one signed webhook event to /callback as LINE would, and say how /callback answered."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"error": "a JSON object is expected"}), 400
    user_id, event_type = payload.get("user"), payload.get("type", "text")
    if not _is_line_user_id(user_id):
        return jsonify({"error": "user must be a LINE user ID: U followed by 32 hex digits"}), 400
    if event_type not in EVENT_TYPES:
        return jsonify({"error": f"type must be one of {', '.join(EVENT_TYPES)}"}), 400
    text, data = payload.get("text", ""), payload.get("data", "")
    if event_type == "text" and (not isinstance(text, str) or not text):
        return jsonify({"error": "text must not be empty"}), 400
    if event_type == "postback" and (not isinstance(data, str) or not data):
        return jsonify({"error": "data must not be empty"}), 400
    display = payload.get("displayText") if event_type == "postback" else None
    name = payload.get("displayName")
    recorder: EmulatorRecorder = current_app.extensions["emulator_recorder"]
    if isinstance(name, str) and name:
        recorder.set_profile(user_id, name[:20])

    event = build_event(user_id, event_type, text=text, data=data)
    status, answer = _deliver_event(user_id, event_type, event, display if isinstance(display, str) else None,
                                    background=payload.get("wait") is False)
    return jsonify({"status": status, "response": answer, "webhookEventId": event["webhookEventId"]})


def _deliver_event(user_id: str, label: str, event: dict, display: str | None = None,
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
    url = _callback_url()
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


@bp.get("/emulator/account-link")
def account_link():
    """LINE's account-link dialog: send the ``accountLink`` event for the user the link token belongs to."""
    link_token, nonce = request.args.get("linkToken", ""), request.args.get("nonce", "")
    if not _LINK_TOKEN_RE.fullmatch(link_token) or not _NONCE_RE.fullmatch(nonce):
        return render_template("emulator_account_link.html", outcome="bad_request"), 400
    recorder: EmulatorRecorder = current_app.extensions["emulator_recorder"]
    outcome, user_id = recorder.spend_link_token(link_token)
    if user_id is None:
        log.info("emulator account link: unknown link token")
        return render_template("emulator_account_link.html", outcome="unknown"), 404
    result = "ok" if outcome == "ok" else "failed"
    event = build_event(user_id, "accountLink", link={"result": result, "nonce": nonce})
    status, _answer = _deliver_event(user_id, "accountLink", event)
    log.info("emulator account link: accountLink event (%s) posted, /callback answered %s", result, status)
    return render_template("emulator_account_link.html", outcome=outcome, callback_status=status,
                           result=result), 200 if outcome == "ok" else 410


@bp.get("/emulator/api/log")
def timeline_after():
    """What happened after ``after`` (a sequence number); ``user`` keeps one user's entries only."""
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        after = 0
    user_id = request.args.get("user")
    entries, last = current_app.extensions["emulator_log"].after(after)
    if user_id:
        entries = [e for e in entries if user_id in e.get("users", [])]
    return jsonify({"entries": entries, "last": last})


@bp.get("/emulator/api/messages")
def delivered_messages():
    """Messages delivered to ``user`` (reply, push, multicast) after ``after``, in order."""
    user_id = request.args.get("user", "")
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        after = 0
    entries, last = current_app.extensions["emulator_log"].after(after)
    messages = [
        {"seq": e["seq"], "api": e["api"], "message": message}
        for e in entries
        if e["kind"] == "api" and e["api"] in DELIVERED_KINDS and e["status"] == 200 and user_id in e["users"]
        for message in (e["body"] or {}).get("messages", [])
    ]
    return jsonify({"messages": messages, "last": last})


@bp.get("/emulator/api/mailbox")
def mailbox():
    """The development mailbox (mail sent while ``SMTP_URL`` is unset), newest first."""
    return jsonify({"mails": dev_mailbox.mails(current_app.extensions["redis"]),
                    "smtp": bool(current_app.config.get("SMTP_URL"))})


@bp.get("/emulator/api/demo-customers")
def demo_customers_json():
    """Customers to register with (number, phone, kana)."""
    return jsonify({"customers": demo_customers()})


def demo_customers(limit: int = 5) -> list[dict[str, str]]:
    """The seed-demo customers (number, phone, kana, a note), or failing that a few from the database."""
    if getattr(demo_data, "DEMO_CUSTOMERS", None):
        without = getattr(demo_data, "DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT", None)
        return [{"customer_number": c.customer_number, "phone": c.phone, "name_kana": c.name_kana,
                 "note": "今月の明細なし" if c.customer_number == without else ""}
                for c in list(demo_data.DEMO_CUSTOMERS)[:limit]]
    from sqlalchemy import select

    from storage.models import Customer

    try:
        with current_app.extensions["db"].begin() as session:
            rows = session.scalars(select(Customer).order_by(Customer.id).limit(limit)).all()
            return [{"customer_number": c.customer_number, "phone": c.phone, "name_kana": c.name_kana, "note": ""}
                    for c in rows]
    except Exception:  # noqa: BLE001 - an unmigrated database must not break the page
        log.warning("emulator could not list customers")
        return []


def init_app(app: Flask) -> None:
    """Mount the fake Messaging API under /emulator/line and the emulator page and its API.

    Unless ``LINE_ACCOUNT_LINK_URL`` is set, the web login sends account-link browsers to
    the emulator's stand-in for LINE's dialog instead of access.line.me.
    """
    if not app.config.get("LINE_ACCOUNT_LINK_URL"):
        app.config["LINE_ACCOUNT_LINK_URL"] = app.config["PUBLIC_BASE_URL"] + "/emulator/account-link"
    timeline = EmulatorLog(app.extensions["redis"])
    recorder = EmulatorRecorder(app.config["LINE_CHANNEL_ACCESS_TOKEN"], timeline)
    app.extensions["emulator_recorder"] = recorder
    app.extensions["emulator_log"] = timeline
    app.extensions["emulator_destination"] = "U" + secrets.token_hex(16)  # the bot's own user ID
    dev_mailbox.init_app(app)  # where mail goes while SMTP_URL is unset
    line_api = make_blueprint(recorder, name="emulator_line_api")
    csrf = app.extensions["csrf"]  # Flask-WTF's, set up by the web edge first
    csrf.exempt(line_api)
    csrf.exempt(bp)  # JSON from the page, loopback only, and only while the emulator is on
    app.register_blueprint(line_api, url_prefix="/emulator/line")
    line_data_api = make_data_blueprint(recorder, name="emulator_line_data_api")  # LINE's data host
    csrf.exempt(line_data_api)
    app.register_blueprint(line_data_api, url_prefix="/emulator/line-data")
    app.register_blueprint(bp)
