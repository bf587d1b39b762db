"""The emulator edge (``EMULATOR=1``): the local LINE stand-in at ``/emulator``, its fake
Messaging API and the OpenAPI validation that the tests' fake LINE uses too.

The rooms: ``page`` (the page's routes; ``init_app`` wires the rest), ``webhook_events``
(build, sign and post webhooks to ``/callback``), ``timeline`` (what the page shows),
``redis_recorder`` (the fake LINE's memory in Redis), ``loopback`` (local use only),
``staff`` (the staff pane), ``richmenu_view`` (the user's rich menu), ``mailbox`` (mail while
``SMTP_URL`` is unset). The fake LINE, also used by the tests and benchmarks:
``line_api_fake`` (message, user and channel routes), ``line_api_fake_richmenu`` (rich menus
and the data host), ``line_api_gate`` (token, failures, validation), ``line_api_recorder``
(what it remembers), ``line_schema`` with ``line_limits`` (LINE's spec and limits).
"""

from __future__ import annotations

from flask import Flask

from handlers.emulator import page, richmenu_view, staff  # noqa: F401 - staff's routes join page.bp


def init_app(app: Flask) -> None:
    """Mount the emulator (only called when ``EMULATOR`` is on), with its staff pane."""
    page.init_app(app)
    richmenu_view.init_app(app)  # the current user's rich menu, tappable
