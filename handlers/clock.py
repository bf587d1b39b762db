"""The app's one clock: ``now()`` is the current time in Asia/Tokyo, an aware datetime.

The factory wires it (``init_app``) into ``app.extensions["clock"]``: a callable returning now.
The tests' ``CLOCK`` setting (``make_app(CLOCK=...)``) replaces it, so a frozen or running test
clock reaches every edge that asks here; a test that moves time after the app is built sets
``app.extensions["clock"]`` itself.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app

from storage.timezone import TOKYO


def tokyo_now() -> datetime:
    """The real clock: now in Asia/Tokyo."""
    return datetime.now(TOKYO)


def now(app: Flask | None = None) -> datetime:
    """Now, by the app's clock (``app`` or the current app)."""
    return (app or current_app).extensions["clock"]()


def init_app(app: Flask) -> None:
    """Wire the clock: the ``CLOCK`` setting when given (tests), else the real one."""
    app.extensions["clock"] = app.config.get("CLOCK") or tokyo_now
