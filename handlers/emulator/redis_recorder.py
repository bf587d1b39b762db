"""The fake LINE's memory in Redis, for the emulator: every process answers every call alike.

Under ``make run`` the page, the gunicorn workers and ``flask worker`` are separate processes;
the fake Messaging API (``line_api_fake``) may be called in one and read in another. So the
emulator's ``EmulatorRecorder`` keeps what the in-memory ``LineApiRecorder`` (``line_api_recorder``)
keeps in a dict (whose reply token, a spent reply or link token, retry keys, display names,
rich menus: ``RedisRichMenus``) under the ``storage.keys`` emulator keys, and writes each call
into the page's ``timeline``.
"""

from __future__ import annotations

import json
import time
from collections.abc import MutableMapping

from handlers.emulator.line_api_recorder import ApiCall, LineApiRecorder, RichMenuState
from handlers.emulator.timeline import EMULATOR_TTL_SECONDS, EmulatorLog
from storage import keys

LINK_TOKEN_SECONDS = 10 * 60  # LINE's link tokens: valid 10 minutes, single use


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
