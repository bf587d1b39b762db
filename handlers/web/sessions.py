"""Server-side web sessions in Redis: a random session id in an HttpOnly cookie, the data in Redis.

The cookie holds only a 256-bit random id; Redis holds the data under the id's SHA-256
(``storage.keys.web_session_key``), so a leaked key list opens nothing. Sessions expire
after ``idle_seconds`` without a request (the TTL is renewed on each request). ``renew``
gives the session a new id at login (the old key is deleted: no session fixation); an
emptied session (``session.clear()``, logout) deletes its key and its cookie.

Flask-WTF keeps its CSRF token in this session, so every page's forms work with it.

When Redis does not answer, the session opens *unavailable* (empty, never written back)
and nothing here raises: the pages decide what to show (``unavailable``); a failed write
is logged and the response goes out without a session cookie.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets

import redis
from flask import Flask, Request, Response, current_app
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from storage.keys import web_session_key

log = logging.getLogger(__name__)
IDLE_SECONDS = 30 * 60
_SID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_serializer = TaggedJSONSerializer()


def _new_sid() -> str:
    return secrets.token_urlsafe(32)


def _key(sid: str) -> str:
    return web_session_key(hashlib.sha256(sid.encode("ascii")).hexdigest())


class RedisSession(CallbackDict, SessionMixin):
    """Session data with its id; ``modified`` is set by any change."""

    def __init__(self, initial: dict | None = None, sid: str | None = None, unavailable: bool = False) -> None:
        def on_update(session: RedisSession) -> None:
            session.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.new = sid is None
        self.modified = False
        self.renew_requested = False
        self.unavailable = unavailable  # Redis did not answer when the session was opened
        self.checked = False  # a new session: whether Redis was pinged yet (see ``unavailable``)


def unavailable(session: SessionMixin) -> bool:
    """True when Redis does not answer for this request's session (a new session pings it once)."""
    if not isinstance(session, RedisSession):
        return False
    if not session.unavailable and session.sid is None and not session.checked:
        session.checked = True
        interface = current_app.session_interface
        try:
            interface.redis.ping()
        except redis.RedisError:
            log.error("web sessions unavailable (Redis)")
            session.unavailable = True
    return session.unavailable


def renew(session: SessionMixin) -> None:
    """Give the session a new id when the response is saved (call at login)."""
    if isinstance(session, RedisSession):
        session.renew_requested = True
        session.modified = True


class RedisSessionInterface(SessionInterface):
    """Flask session interface storing session data in Redis."""

    def __init__(self, client: redis.Redis, idle_seconds: int = IDLE_SECONDS) -> None:
        self.redis = client
        self.idle_seconds = idle_seconds

    def open_session(self, app: Flask, request: Request) -> RedisSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and _SID_RE.fullmatch(sid):
            try:
                raw = self.redis.get(_key(sid))
            except redis.RedisError:
                log.error("web sessions unavailable (Redis)")
                return RedisSession(unavailable=True)
            if raw:
                try:
                    return RedisSession(_serializer.loads(raw), sid)
                except ValueError:
                    log.warning("an unreadable web session was dropped")
        return RedisSession()

    def save_session(self, app: Flask, session: RedisSession, response: Response) -> None:  # type: ignore[override]
        if session.unavailable:
            return  # nothing was read, so nothing may be written over what Redis holds
        try:
            self._save(app, session, response)
        except redis.RedisError:
            # The page is already rendered; without its session the next request starts afresh.
            log.error("a web session could not be saved (Redis)")

    def _save(self, app: Flask, session: RedisSession, response: Response) -> None:
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        samesite = self.get_cookie_samesite(app)
        if not session:
            if session.sid is not None:
                # Emptied (logout, a dead login): forget it everywhere.
                response.delete_cookie(name, domain=domain, path=path, secure=secure, samesite=samesite,
                                       httponly=True)
                self.redis.delete(_key(session.sid))
            return
        response.vary.add("Cookie")
        if session.renew_requested or session.sid is None:
            if session.sid is not None:
                self.redis.delete(_key(session.sid))
            session.sid = _new_sid()
            self.redis.set(_key(session.sid), _serializer.dumps(dict(session)), ex=self.idle_seconds)
            response.set_cookie(name, session.sid, domain=domain, path=path, secure=secure, samesite=samesite,
                                httponly=True)
            return
        # A session that already has its cookie: its changes written, or its idle timer renewed, only
        # while it still exists. One ended meanwhile (a login in another tab gave it a new id, a logout,
        # the idle timeout) stays ended, and its cookie is not sent again: a response racing the login's
        # (the emulator's polling, a second tab) would otherwise put the old id back in the browser.
        if session.modified:
            self.redis.set(_key(session.sid), _serializer.dumps(dict(session)), ex=self.idle_seconds, xx=True)
        else:
            self.redis.expire(_key(session.sid), self.idle_seconds)


def init_app(app: Flask) -> None:
    """Install the Redis session interface on the app."""
    app.session_interface = RedisSessionInterface(app.extensions["redis"],
                                                  int(app.config.get("WEB_SESSION_IDLE_SECONDS", IDLE_SECONDS)))
