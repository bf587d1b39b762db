"""The web edge: the My Page (login, bills, reminder, account settings), the 本登録 page, server-side sessions,
CSRF, security headers, ``/healthz`` and the error pages. The pages' text is in ``templates/``."""

from __future__ import annotations

from flask import Flask

from handlers.web import common, mypage, register_page, settings


def init_app(app: Flask) -> None:
    """CSRF and headers first (other edges exempt their signed webhooks from it), then the pages."""
    common.init_app(app)
    register_page.init_app(app)
    mypage.init_app(app)
    settings.init_app(app)
