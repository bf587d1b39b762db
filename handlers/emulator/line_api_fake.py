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


@dataclass
class LineApiRecorder:
    """Everything the fake LINE received; thread-safe. Tests and the emulator read it."""

    access_token: str
    calls: list[ApiCall] = field(default_factory=list)
    invalid_reply_tokens: set[str] = field(default_factory=set)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer next, e.g. [500]
    profiles: dict[str, dict] = field(default_factory=dict)
    reply_token_users: dict[str, str] = field(default_factory=dict)  # filled by whoever sends the webhook
    validate: bool = True  # False skips the OpenAPI check (the latency benchmark measures what it costs)
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

    # What the endpoints look up; the emulator keeps these in Redis so every process shares them.
    def reply_user(self, token: str) -> str | None:
        """Whose webhook carried this reply token."""
        return self.reply_token_users.get(token)

    def spend_reply_token(self, token: str) -> bool:
        """Use a reply token once: False when it was already used (or refused)."""
        with self._lock:
            if token in self.invalid_reply_tokens:
                return False
            self.invalid_reply_tokens.add(token)
            return True

    def profile(self, user_id: str) -> dict:
        """The profile LINE would return for a user."""
        return self.profiles.get(user_id, {"userId": user_id, "displayName": "LINEユーザー", "language": "ja"})

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
        if recorder.fail_next:
            status = recorder.fail_next.pop(0)
            recorder.record(ApiCall(kind, request.path, body, status, ["injected failure"], time.time(), user_id))
            return None, _line_error(status, "injected failure")
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
        if not recorder.spend_reply_token(token):  # a reply token is good for one reply
            recorder.record(ApiCall("reply", request.path, body, 400, ["Invalid reply token"], time.time()))
            return _line_error(400, "Invalid reply token")
        recorder.record(ApiCall("reply", request.path, body, 200, [], time.time(),
                                user_id=recorder.reply_user(token)))
        return jsonify({"sentMessages": [{"id": secrets.token_hex(8)} for _ in body["messages"]]})

    @bp.post("/v2/bot/message/push")
    def push():
        body, error = _call("push", "PushMessageRequest")
        if error:
            return error
        retry_key = request.headers.get("X-Line-Retry-Key")
        if retry_key and recorder.seen_retry_key(retry_key):
            recorder.record(ApiCall("push", request.path, body, 409, ["retry key already accepted"],
                                    time.time(), body["to"], retry_key))
            return _line_error(409, "The retry key is already accepted")
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
        return jsonify(recorder.profile(user_id))

    @bp.post("/v2/bot/user/<user_id>/linkToken")
    def link_token(user_id: str):
        _body, error = _call("link_token", None, user_id)
        if error:
            return error
        token = secrets.token_urlsafe(24)
        recorder.record(ApiCall("link_token", request.path, {"linkToken": token}, 200, [], time.time(), user_id))
        return jsonify({"linkToken": token})

    return bp
