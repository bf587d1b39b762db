"""The emulator edge (``EMULATOR=1``): the local LINE stand-in at ``/emulator``, its fake
Messaging API and the OpenAPI validation that the tests' fake LINE uses too."""

from __future__ import annotations

from flask import Flask

from handlers.emulator import page, staff


def init_app(app: Flask) -> None:
    """Mount the emulator (only called when ``EMULATOR`` is on), with its staff pane."""
    staff.init_app(app)
    page.init_app(app)
