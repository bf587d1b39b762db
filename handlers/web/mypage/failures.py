"""When a dependency fails: without Redis (the sessions) or the database, the pages answer 503 with a polite
page (``mypage/unavailable.html``), a POST included (it is answered before the CSRF check, which needs the
session); any other unexpected error is a plain 500 page in the same style, never a stack trace."""

from __future__ import annotations

import redis
from flask import render_template, request, session
from werkzeug.exceptions import InternalServerError

from handlers.web import sessions
from handlers.web.common import unavailable_page
from storage.errors import Unavailable

SESSION_BLUEPRINTS = ("mypage", "settings")  # the pages that need their session (login, CSRF)


def refuse_without_sessions():
    """Every My Page page needs its session (login, CSRF): without Redis, say so politely."""
    if request.blueprint in SESSION_BLUEPRINTS and sessions.unavailable(session):
        return unavailable_page()
    return None


def server_error(error: InternalServerError):
    """A database or Redis that does not answer is 503 ("try again later"); anything else a plain 500 page.

    Registered for the whole app (the 本登録 page too), not only this blueprint."""
    cause = getattr(error, "original_exception", None)
    if isinstance(cause, Unavailable | redis.RedisError):  # storage's name for "not now"; the sessions' own Redis
        return unavailable_page()
    return render_template("mypage/unavailable.html", kind="error"), 500
