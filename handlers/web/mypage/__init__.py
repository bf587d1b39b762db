"""The web My Page: one blueprint (``mypage``), one room per job.

- ``access``: the blueprint, the signed-in account (its ``session_version`` checked on every page), ``login_required``;
- ``auth``: login (with its throttle) and logout;
- ``account``: お客様メニュー and 退会 (with a LINE push to the linked user);
- ``bills``: ご利用料金の一覧 and the bill detail page (the owner, or the chat's 15-minute bearer link);
- ``reminder``: the forgotten account ID and password mails, and the password reset;
- ``link``: the LINE account link's start and confirm pages (the login form completes a link);
- ``friend``: the add-friend link and QR code every page may show;
- ``failures``: 503 when Redis or the database does not answer, a plain 500 page otherwise.

Sessions are server-side (``handlers.web.sessions``); the account settings pages are their own blueprint
(``handlers.web.settings``).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import InternalServerError

from bot import messages
from handlers.web import sessions

# Each page module adds its routes to the blueprint when imported.
from handlers.web.mypage import account, auth, bills, link, reminder  # noqa: F401
from handlers.web.mypage.access import bp
from handlers.web.mypage.failures import refuse_without_sessions, server_error
from handlers.web.mypage.friend import add_friend, add_friend_context


def init_app(app: Flask) -> None:
    """Install the Redis sessions, the money/month filters, and register the pages."""
    sessions.init_app(app)
    # First of the app's before-request hooks, ahead of CSRFProtect's: its check needs the session.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_without_sessions)
    app.add_template_filter(messages.yen, "yen")
    app.add_template_filter(messages.month_label, "month_label")
    app.add_template_filter(messages.date_label, "date_label")
    app.extensions["line_add_friend"] = add_friend(app.config.get("LINE_BASIC_ID"))  # drawn once
    app.context_processor(add_friend_context)
    app.register_blueprint(bp)
    app.register_error_handler(InternalServerError, server_error)
