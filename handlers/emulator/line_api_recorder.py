"""What the fake LINE remembers: every call it answered, the failures tests inject, its rich menus.

``LineApiRecorder`` is the memory behind the fake Messaging API (``line_api_fake`` and
``line_api_fake_richmenu`` record into it; ``line_api_gate`` reads its token, latency and
injected failures). Tests and benchmarks read the calls back (``accepted``, ``texts``,
``wait_for``); the emulator's ``redis_recorder`` keeps the same memory in Redis so that every
process shares it. No Flask here: plain values and a lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


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

    @property
    def lock(self) -> threading.Lock:
        """The lock over the calls and the rich menus (a route changing several menus holds it)."""
        return self._lock

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
