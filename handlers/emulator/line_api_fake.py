"""A local stand-in for LINE's Messaging API: the emulator's back end and the tests' fake LINE.

The bot's real line-bot-sdk client talks to it over HTTP (``LINE_API_BASE_URL``). It
checks the bearer token, validates every request body against LINE's OpenAPI spec and
LINE's message limits (see ``line_schema``), answers as LINE does (400 with a
``message`` and ``details``), and records each call for the emulator page and the tests.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, jsonify, request

from handlers.emulator import line_schema


@dataclass
class ApiCall:
    """One request the bot made, as LINE would have seen it."""

    kind: str  # reply | push | multicast | loading | profile | link_token | ...
    path: str
    body: Any
    status: int
    errors: list[str]
    at: float
    user_id: str | None = None
    retry_key: str | None = None


@dataclass(frozen=True)
class Failure:
    """An injected answer for the next call of ``kind`` (any call when None), queued in ``fail_next``
    beside plain statuses: a status with LINE's ``message``, or, with ``status`` None, only a delay
    before the call is answered as usual (a timeout on the bot's side of a push LINE did accept)."""

    status: int | None = 500
    message: str = "injected failure"
    delay: float = 0.0
    kind: str | None = None
    user_id: str | None = None  # only calls to (or about) this LINE user


MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."


@dataclass
class LineApiRecorder:
    """Everything the fake LINE received; thread-safe. Tests and the emulator read it."""

    access_token: str
    calls: list[ApiCall] = field(default_factory=list)
    invalid_reply_tokens: set[str] = field(default_factory=set)
    # statuses to answer next, e.g. [500], or ``Failure`` values (a status, a delay, for one kind of call)
    fail_next: list[int | Failure] = field(default_factory=list)
    profiles: dict[str, dict] = field(default_factory=dict)
    reply_token_users: dict[str, str] = field(default_factory=dict)  # filled by whoever sends the webhook
    validate: bool = True  # False skips the OpenAPI check (the latency benchmark measures what it costs)
    latency: float = 0.0  # seconds every call waits before it is answered (benchmarks)
    # The plan's monthly message quota: None is no limit. Pushes count (one per message), replies do not.
    quota: int | None = None
    quota_used: int = 0
    consumption_lag: int = 0  # /quota/consumption reports this many fewer (LINE's figure lags behind)
    _retry_keys: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    def record(self, call: ApiCall) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self._retry_keys.clear()
            self.quota, self.quota_used, self.consumption_lag, self.latency = None, 0, 0, 0.0

    def next_failure(self, kind: str, user_id: str | None = None) -> Failure | None:
        """Take the first injected failure meant for this call (a plain status: any call)."""
        with self._lock:
            for index, entry in enumerate(self.fail_next):
                if isinstance(entry, int):
                    del self.fail_next[index]
                    return Failure(entry)
                if entry.kind in (None, kind) and entry.user_id in (None, user_id):
                    del self.fail_next[index]
                    return entry
        return None

    def accept_push(self, retry_key: str | None, count: int) -> str:
        """``ok``, ``duplicate`` (retry key already accepted: 409) or ``quota`` (monthly limit: 429),
        decided at once so a refused push does not spend its retry key."""
        with self._lock:
            if retry_key and retry_key in self._retry_keys:
                return "duplicate"
            if self.quota is not None and self.quota_used + count > self.quota:
                return "quota"
            self.quota_used += count
            if retry_key:
                self._retry_keys.add(retry_key)
            return "ok"

    def accepted(self, kind: str | None = None, user_id: str | None = None) -> list[ApiCall]:
        """Calls answered 200, optionally of one kind and to one user."""
        with self._lock:
            return [c for c in self.calls if c.status == 200 and (kind is None or c.kind == kind)
                    and (user_id is None or c.user_id == user_id)]

    def messages(self, user_id: str | None = None) -> list[dict]:
        """Every message delivered (reply, push, multicast), in order."""
        out: list[dict] = []
        for call in self.accepted():
            if call.kind in ("reply", "push", "multicast") and (user_id is None or call.user_id == user_id
                                                                or user_id in (call.body or {}).get("to", [])):
                out.extend(call.body.get("messages", []))
        return out

    def texts(self, user_id: str | None = None) -> list[str]:
        """The text of every delivered message (Flex: its altText)."""
        return [m.get("text") or m.get("altText", "") for m in self.messages(user_id)]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Block until ``predicate(self)`` holds (pushes arrive from worker threads)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._changed.release()
                try:
                    if predicate(self):
                        return True
                finally:
                    self._changed.acquire()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))

    def seen_retry_key(self, key: str) -> bool:
        with self._lock:
            if key in self._retry_keys:
                return True
            self._retry_keys.add(key)
            return False


def _line_error(status: int, message: str, details: list[str] | None = None):
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = [{"message": d, "property": ""} for d in details]
    return jsonify(body), status


def make_blueprint(recorder: LineApiRecorder, name: str = "line_api_fake") -> Blueprint:
    """The Messaging API endpoints the bot uses, recording into ``recorder``."""
    bp = Blueprint(name, __name__)

    def _authorised() -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {recorder.access_token}"

    def _call(kind: str, schema_name: str | None, user_id: str | None = None):
        body = request.get_json(silent=True) if request.data else None
        if not _authorised():
            recorder.record(ApiCall(kind, request.path, body, 401, ["bad access token"], time.time(), user_id))
            return None, _line_error(401, "Authentication failed. Confirm that the access token in the "
                                          "authorization header is valid.")
        if recorder.latency:
            time.sleep(recorder.latency)
        target = user_id or (body.get("to") if isinstance(body, dict) else None)
        failure = recorder.next_failure(kind, target) if recorder.fail_next else None
        if failure is not None and failure.delay:
            time.sleep(failure.delay)
        if failure is not None and failure.status is not None:
            recorder.record(ApiCall(kind, request.path, body, failure.status, [failure.message], time.time(),
                                    target))
            return None, _line_error(failure.status, failure.message)
        errors: list[str] = []
        if schema_name and recorder.validate:
            if body is None:
                errors = ["The request body has 1 error(s)"]
            else:
                errors = line_schema.validate(schema_name, body)
        if errors:
            recorder.record(ApiCall(kind, request.path, body, 400, errors, time.time(), user_id))
            return None, _line_error(400, f"The request body has {len(errors)} error(s)", errors)
        return body, None

    @bp.post("/v2/bot/message/reply")
    def reply():
        body, error = _call("reply", "ReplyMessageRequest")
        if error:
            return error
        token = body["replyToken"]
        if token in recorder.invalid_reply_tokens:
            recorder.record(ApiCall("reply", request.path, body, 400, ["Invalid reply token"], time.time()))
            return _line_error(400, "Invalid reply token")
        recorder.invalid_reply_tokens.add(token)  # a reply token is good for one reply
        recorder.record(ApiCall("reply", request.path, body, 200, [], time.time(),
                                user_id=recorder.reply_token_users.get(token)))
        return jsonify({"sentMessages": [{"id": secrets.token_hex(8)} for _ in body["messages"]]})

    @bp.post("/v2/bot/message/push")
    def push():
        body, error = _call("push", "PushMessageRequest")
        if error:
            return error
        retry_key = request.headers.get("X-Line-Retry-Key")
        verdict = recorder.accept_push(retry_key, len(body["messages"]))
        if verdict == "duplicate":
            recorder.record(ApiCall("push", request.path, body, 409, ["retry key already accepted"],
                                    time.time(), body["to"], retry_key))
            return _line_error(409, "The retry key is already accepted")
        if verdict == "quota":
            recorder.record(ApiCall("push", request.path, body, 429, [MONTHLY_LIMIT_MESSAGE], time.time(),
                                    body["to"], retry_key))
            return _line_error(429, MONTHLY_LIMIT_MESSAGE)
        recorder.record(ApiCall("push", request.path, body, 200, [], time.time(), body["to"], retry_key))
        return jsonify({"sentMessages": [{"id": secrets.token_hex(8)} for _ in body["messages"]]})

    @bp.post("/v2/bot/message/multicast")
    def multicast():
        body, error = _call("multicast", "MulticastRequest")
        if error:
            return error
        recorder.record(ApiCall("multicast", request.path, body, 200, [], time.time()))
        return jsonify({})

    @bp.post("/v2/bot/chat/loading/start")
    def loading():
        body, error = _call("loading", "ShowLoadingAnimationRequest")
        if error:
            return error
        recorder.record(ApiCall("loading", request.path, body, 200, [], time.time(), body.get("chatId")))
        return jsonify({}), 202

    @bp.get("/v2/bot/profile/<user_id>")
    def profile(user_id: str):
        _body, error = _call("profile", None, user_id)
        if error:
            return error
        recorder.record(ApiCall("profile", request.path, None, 200, [], time.time(), user_id))
        return jsonify(recorder.profiles.get(user_id, {"userId": user_id, "displayName": "LINEユーザー",
                                                       "language": "ja"}))

    @bp.post("/v2/bot/user/<user_id>/linkToken")
    def link_token(user_id: str):
        _body, error = _call("link_token", None, user_id)
        if error:
            return error
        token = secrets.token_urlsafe(24)
        recorder.record(ApiCall("link_token", request.path, {"linkToken": token}, 200, [], time.time(), user_id))
        return jsonify({"linkToken": token})

    # -- the message quota (bill notices) --------------------------------------------------------
    @bp.get("/v2/bot/message/quota")
    def quota():
        _body, error = _call("quota", None)
        if error:
            return error
        recorder.record(ApiCall("quota", request.path, None, 200, [], time.time()))
        if recorder.quota is None:
            return jsonify({"type": "none"})
        return jsonify({"type": "limited", "value": recorder.quota})

    @bp.get("/v2/bot/message/quota/consumption")
    def quota_consumption():
        _body, error = _call("quota_consumption", None)
        if error:
            return error
        recorder.record(ApiCall("quota_consumption", request.path, None, 200, [], time.time()))
        return jsonify({"totalUsage": max(recorder.quota_used - recorder.consumption_lag, 0)})
    # -- end of the message quota ----------------------------------------------------------------

    return bp
