"""The emulator edge (``EMULATOR=1``): the local LINE stand-in at ``/emulator``, its fake
Messaging API and the OpenAPI validation that the tests' fake LINE uses too."""

from __future__ import annotations

from flask import Flask

from handlers.emulator import page, richmenu_view, staff


def init_app(app: Flask) -> None:
    """Mount the emulator (only called when ``EMULATOR`` is on), with its staff pane."""
    staff.init_app(app)
    page.init_app(app)
    richmenu_view.init_app(app)  # the current user's rich menu, tappable
