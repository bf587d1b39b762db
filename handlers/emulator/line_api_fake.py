"""A local stand-in for LINE's Messaging API: the emulator's back end and the tests' fake LINE.

The bot's real line-bot-sdk client talks to it over HTTP (``LINE_API_BASE_URL``). It
checks the bearer token, validates every request body against LINE's OpenAPI spec and
LINE's message limits (see ``line_schema``), answers as LINE does (400 with a
``message`` and ``details``), and records each call for the emulator page and the tests.
"""

from __future__ import annotations

import io
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from PIL import Image, UnidentifiedImageError

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
    rich_menus: RichMenuState = field(default_factory=lambda: RichMenuState())
    # GET /v2/bot/info and the month's message quota (``flask --app app check``; notices).
    bot_info: dict = field(default_factory=lambda: {
        "userId": "U0123456789abcdef0123456789abcdef", "basicId": "@123abcde", "displayName": "あいコムこうか",
        "chatMode": "bot", "markAsReadMode": "auto"})
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
            self.rich_menus.clear()
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
        return jsonify(recorder.profile(user_id))

    @bp.post("/v2/bot/user/<user_id>/linkToken")
    def link_token(user_id: str):
        _body, error = _call("link_token", None, user_id)
        if error:
            return error
        token = secrets.token_urlsafe(24)
        recorder.record(ApiCall("link_token", request.path, {"linkToken": token}, 200, [], time.time(), user_id))
        return jsonify({"linkToken": token})

    # -- the channel and its quota (operators' check; bill notices) ----------------------------
    @bp.get("/v2/bot/info")
    def bot_info():
        _body, error = _call("bot_info", None)
        if error:
            return error
        recorder.record(ApiCall("bot_info", request.path, None, 200, [], time.time()))
        return jsonify(recorder.bot_info)

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

    _add_rich_menu_routes(bp, recorder, _call)
    return bp


# -- rich menus (the Messaging API host and the data host) -----------------------------------
MAX_RICH_MENU_IMAGE_BYTES = 1024 * 1024  # LINE: JPEG or PNG, at most 1 MB


@dataclass
class RichMenuState:
    """The rich menus the fake LINE holds: menus, their images, the default, per-user links."""

    menus: dict[str, dict] = field(default_factory=dict)  # richMenuId -> the rich menu response object
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # richMenuId -> (content type, bytes)
    default: str | None = None
    users: dict[str, str] = field(default_factory=dict)  # userId -> richMenuId (per-user links)

    def clear(self) -> None:
        self.menus.clear()
        self.images.clear()
        self.default = None
        self.users.clear()

    def menu_for(self, user_id: str) -> str | None:
        """What the LINE app shows this user: their own menu, else the default."""
        return self.users.get(user_id) or self.default


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, or None when it is neither."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                return None
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


def _rich_menu_problems(body: dict) -> list[str]:
    """LINE's rules the schema cannot say: areas inside the image, an aspect ratio of at least 1.45."""
    problems = []
    size = body["size"]
    if size["width"] / size["height"] < 1.45:
        problems.append("size: the aspect ratio (width / height) must be at least 1.45")
    for i, area in enumerate(body["areas"]):
        bounds = area["bounds"]
        if bounds["x"] + bounds["width"] > size["width"] or bounds["y"] + bounds["height"] > size["height"]:
            problems.append(f"areas[{i}].bounds: must be inside the rich menu ({size['width']}x{size['height']})")
    return problems


def _add_rich_menu_routes(bp: Blueprint, recorder: LineApiRecorder, call) -> None:
    """Rich menu endpoints on the Messaging API host (the image lives on the data host)."""
    state = recorder.rich_menus

    def ok(kind: str, body=None, user_id: str | None = None, status: int = 200):
        recorder.record(ApiCall(kind, request.path, body, 200, [], time.time(), user_id))
        return jsonify({}), status

    def refuse(kind: str, status: int, message: str, body=None, user_id: str | None = None):
        recorder.record(ApiCall(kind, request.path, body, status, [message], time.time(), user_id))
        return _line_error(status, message)

    def checked_menu(kind: str):
        body, error = call(kind, "RichMenuRequest")
        if error:
            return None, error
        problems = _rich_menu_problems(body)
        if problems:
            recorder.record(ApiCall(kind, request.path, body, 400, problems, time.time()))
            return None, _line_error(400, "The request body has 1 error(s)", problems)
        return body, None

    @bp.post("/v2/bot/richmenu")
    def create_rich_menu():
        body, error = checked_menu("richmenu_create")
        if error:
            return error
        rich_menu_id = "richmenu-" + secrets.token_hex(16)
        with recorder._lock:
            state.menus[rich_menu_id] = {"richMenuId": rich_menu_id, **body}
        recorder.record(ApiCall("richmenu_create", request.path, body, 200, [], time.time()))
        return jsonify({"richMenuId": rich_menu_id})

    @bp.post("/v2/bot/richmenu/validate")
    def validate_rich_menu():
        body, error = checked_menu("richmenu_validate")
        return error or ok("richmenu_validate", body)

    @bp.get("/v2/bot/richmenu/list")
    def list_rich_menus():
        _body, error = call("richmenu_list", None)
        if error:
            return error
        recorder.record(ApiCall("richmenu_list", request.path, None, 200, [], time.time()))
        with recorder._lock:
            return jsonify({"richmenus": list(state.menus.values())})

    @bp.get("/v2/bot/richmenu/<rich_menu_id>")
    def get_rich_menu(rich_menu_id: str):
        _body, error = call("richmenu_get", None)
        if error:
            return error
        menu = state.menus.get(rich_menu_id)
        if menu is None:
            return refuse("richmenu_get", 404, "richmenu not found")
        recorder.record(ApiCall("richmenu_get", request.path, None, 200, [], time.time()))
        return jsonify(menu)

    @bp.delete("/v2/bot/richmenu/<rich_menu_id>")
    def delete_rich_menu(rich_menu_id: str):
        _body, error = call("richmenu_delete", None)
        if error:
            return error
        with recorder._lock:
            if state.menus.pop(rich_menu_id, None) is None:
                found = False
            else:
                found = True
                state.images.pop(rich_menu_id, None)
                if state.default == rich_menu_id:
                    state.default = None
                for user_id in [u for u, m in state.users.items() if m == rich_menu_id]:
                    del state.users[user_id]  # LINE unlinks a deleted menu from its users
        if not found:
            return refuse("richmenu_delete", 404, "richmenu not found")
        return ok("richmenu_delete", {"richMenuId": rich_menu_id})

    def usable(kind: str, rich_menu_id: str, user_id: str | None = None):
        """Refuse a menu that does not exist or has no image yet, as LINE does."""
        if rich_menu_id not in state.menus:
            return refuse(kind, 404, "richmenu not found", {"richMenuId": rich_menu_id}, user_id)
        if rich_menu_id not in state.images:
            return refuse(kind, 400, "must upload richmenu image before applying it to user",
                          {"richMenuId": rich_menu_id}, user_id)
        return None

    @bp.post("/v2/bot/user/all/richmenu/<rich_menu_id>")
    def set_default_rich_menu(rich_menu_id: str):
        _body, error = call("richmenu_default_set", None)
        if error:
            return error
        refused = usable("richmenu_default_set", rich_menu_id)
        if refused:
            return refused
        state.default = rich_menu_id
        return ok("richmenu_default_set", {"richMenuId": rich_menu_id})

    @bp.get("/v2/bot/user/all/richmenu")
    def get_default_rich_menu():
        _body, error = call("richmenu_default_get", None)
        if error:
            return error
        if state.default is None:
            return refuse("richmenu_default_get", 404, "no default richmenu")
        recorder.record(ApiCall("richmenu_default_get", request.path, None, 200, [], time.time()))
        return jsonify({"richMenuId": state.default})

    @bp.delete("/v2/bot/user/all/richmenu")
    def cancel_default_rich_menu():
        _body, error = call("richmenu_default_cancel", None)
        if error:
            return error
        state.default = None
        return ok("richmenu_default_cancel")

    @bp.get("/v2/bot/user/<user_id>/richmenu")
    def get_user_rich_menu(user_id: str):
        _body, error = call("richmenu_user_get", None, user_id)
        if error:
            return error
        rich_menu_id = state.users.get(user_id)
        if rich_menu_id is None:
            return refuse("richmenu_user_get", 404, "the user has no richmenu", user_id=user_id)
        recorder.record(ApiCall("richmenu_user_get", request.path, None, 200, [], time.time(), user_id))
        return jsonify({"richMenuId": rich_menu_id})

    @bp.post("/v2/bot/user/<user_id>/richmenu/<rich_menu_id>")
    def link_user_rich_menu(user_id: str, rich_menu_id: str):
        _body, error = call("richmenu_link", None, user_id)
        if error:
            return error
        refused = usable("richmenu_link", rich_menu_id, user_id)
        if refused:
            return refused
        state.users[user_id] = rich_menu_id
        return ok("richmenu_link", {"richMenuId": rich_menu_id}, user_id)

    @bp.delete("/v2/bot/user/<user_id>/richmenu")
    def unlink_user_rich_menu(user_id: str):
        _body, error = call("richmenu_unlink", None, user_id)
        if error:
            return error
        state.users.pop(user_id, None)
        return ok("richmenu_unlink", None, user_id)

    @bp.post("/v2/bot/richmenu/bulk/link")
    def bulk_link():
        body, error = call("richmenu_bulk_link", "RichMenuBulkLinkRequest")
        if error:
            return error
        refused = usable("richmenu_bulk_link", body["richMenuId"])
        if refused:
            return refused
        with recorder._lock:
            for user_id in body["userIds"]:
                state.users[user_id] = body["richMenuId"]
        return ok("richmenu_bulk_link", body, status=202)

    @bp.post("/v2/bot/richmenu/bulk/unlink")
    def bulk_unlink():
        body, error = call("richmenu_bulk_unlink", "RichMenuBulkUnlinkRequest")
        if error:
            return error
        with recorder._lock:
            for user_id in body["userIds"]:
                state.users.pop(user_id, None)
        return ok("richmenu_bulk_unlink", body, status=202)


def make_data_blueprint(recorder: LineApiRecorder, name: str = "line_data_api_fake") -> Blueprint:
    """LINE's data host (``api-data.line.me``): upload and download of rich menu images."""
    bp = Blueprint(name, __name__)
    state = recorder.rich_menus

    def refuse(kind: str, status: int, message: str, body=None):
        recorder.record(ApiCall(kind, request.path, body, status, [message], time.time()))
        return _line_error(status, message)

    def authorised(kind: str):
        if request.headers.get("Authorization", "") != f"Bearer {recorder.access_token}":
            return refuse(kind, 401, "Authentication failed. Confirm that the access token in the "
                                     "authorization header is valid.")
        if recorder.fail_next:
            return refuse(kind, recorder.fail_next.pop(0), "injected failure")
        return None

    @bp.post("/v2/bot/richmenu/<rich_menu_id>/content")
    def upload_rich_menu_image(rich_menu_id: str):
        kind = "richmenu_image_upload"
        refused = authorised(kind)
        if refused:
            return refused
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        data = request.get_data()
        summary = {"richMenuId": rich_menu_id, "contentType": content_type, "bytes": len(data)}
        menu = state.menus.get(rich_menu_id)
        if menu is None:
            return refuse(kind, 404, "richmenu not found", summary)
        if rich_menu_id in state.images:
            return refuse(kind, 400, "An image has already been uploaded to the richmenu", summary)
        if content_type not in ("image/png", "image/jpeg"):
            return refuse(kind, 415, "Content-Type must be image/png or image/jpeg", summary)
        if len(data) > MAX_RICH_MENU_IMAGE_BYTES:
            return refuse(kind, 400, "the image must be at most 1 MB", summary)
        size = _image_size(data)
        expected = (menu["size"]["width"], menu["size"]["height"])
        if size is None:
            return refuse(kind, 400, "the image is neither PNG nor JPEG", summary)
        if size != expected:
            return refuse(kind, 400, f"the image is {size[0]}x{size[1]}; the rich menu is "
                                     f"{expected[0]}x{expected[1]}", summary)
        with recorder._lock:
            state.images[rich_menu_id] = (content_type, data)
        recorder.record(ApiCall(kind, request.path, summary, 200, [], time.time()))
        return jsonify({})

    @bp.get("/v2/bot/richmenu/<rich_menu_id>/content")
    def download_rich_menu_image(rich_menu_id: str):
        kind = "richmenu_image_download"
        refused = authorised(kind)
        if refused:
            return refused
        image = state.images.get(rich_menu_id)
        if image is None:
            return refuse(kind, 404, "richmenu image not found", {"richMenuId": rich_menu_id})
        recorder.record(ApiCall(kind, request.path, {"richMenuId": rich_menu_id}, 200, [], time.time()))
        return Response(image[1], mimetype=image[0])

    return bp
