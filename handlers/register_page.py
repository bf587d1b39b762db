"""Web pages: register_page (being built)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("register_page", __name__)


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
