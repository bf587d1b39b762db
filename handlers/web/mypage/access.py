"""The My Page blueprint and who may see its pages: the signed-in account (its ``session_version`` checked
against the database on every page), ``login_required``, and the ``next`` a login goes back to."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, session, url_for

from handlers.web.common import database
from storage import logins
from storage.models import Account

# Every page of the My Page, in any module of this package: endpoints are "mypage.<view>".
bp = Blueprint("mypage", __name__)


def safe_next(value: str | None) -> str | None:
    """``next`` only as a same-site relative path (``/mypage/...``); anything else is dropped."""
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def login_url(next_path: str | None = None) -> str:
    """The login page, coming back to ``next_path`` afterwards."""
    return url_for("mypage.login", next=next_path) if next_path else url_for("mypage.login")


def current_account(db) -> Account | None:
    """The logged-in account, or None (a session of an older ``session_version`` is ended)."""
    account_id = session.get("account_id")
    if not account_id:
        return None
    account = logins.active_account(db, int(account_id))
    if account is None or account.session_version != session.get("session_version"):
        # An older session (password reset) or a closed account: the login ends, nothing else.
        session.pop("account_id", None)
        session.pop("session_version", None)
        return None
    return account


def login_required(view):
    """Run the view with the logged-in account, or send the visitor to /login?next=<this page>."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        with database().begin() as db:
            account = current_account(db)
            if account is None:
                return redirect(login_url(request.full_path.rstrip("?")))
            return view(db, account, *args, **kwargs)

    return wrapper
