"""The bill notices' settings (``NOTICE_*``), and what every notice room reaches through the app:
its database and its Redis (the clock is the app's: ``handlers.clock``).

The other rooms of ``handlers.line.notices`` (``rate``, ``template``, ``push``, ``batch``,
``run``, ``schedule``) and the ``notify-bills`` command (``handlers.cli.notices``) read their
settings here, once per app, checked at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import click
from flask import Flask, current_app

DEFAULTS = {
    "NOTICE_RATE_PER_SECOND": 200,  # LINE allows 2,000 pushes a second per channel; stay well under
    "NOTICE_HOUR": 10,  # Asia/Tokyo hour from which the month's run may start by itself
    "NOTICE_BATCH_SIZE": 200,  # rows per batch job
    "NOTICE_CONCURRENCY": 64,  # pushes in flight per batch job at most (threads, started as the rate needs them)
    "NOTICE_LEASE_SECONDS": 300,  # how long a batch holds its rows before another may take them
    "NOTICE_RETRY_DELAYS": "10,60,300,1800,7200,21600",  # seconds between attempts after a 5xx/timeout
    "NOTICE_RETRY_WINDOW_SECONDS": 23 * 3600,  # LINE keeps a retry key 24 h; stop retrying before that
    "NOTICE_PUSH_TIMEOUT_SECONDS": 5,  # read timeout of one push
    "NOTICE_WAIT_SECONDS": 600,  # the command waits this long for due retries; the workers do the rest
    "NOTICE_IMPORT_QUIET_SECONDS": 1800,  # statements unchanged this long count as imported
}


@dataclass(frozen=True)
class NoticeSettings:
    """The ``NOTICE_*`` settings of one app."""

    rate: float
    hour: int
    batch_size: int
    concurrency: int
    lease_seconds: float
    retry_delays: tuple[float, ...]
    retry_window_seconds: float
    push_timeout: float
    wait_seconds: float
    import_quiet_seconds: float


def _setting(app: Flask, name: str):
    if name not in app.config:
        raw = os.environ.get(name, "").strip()
        app.config[name] = raw if raw else DEFAULTS[name]
    return app.config[name]


def settings(app: Flask | None = None) -> NoticeSettings:
    """The notice settings (environment, or app config in tests), checked once at start-up."""
    app = app or current_app
    cached = app.extensions.get("notice_settings")
    if cached is not None:
        return cached
    try:
        delays = _setting(app, "NOTICE_RETRY_DELAYS")
        if isinstance(delays, str):
            delays = [float(part) for part in delays.split(",") if part.strip()]
        value = NoticeSettings(
            rate=float(_setting(app, "NOTICE_RATE_PER_SECOND")), hour=int(_setting(app, "NOTICE_HOUR")),
            batch_size=int(_setting(app, "NOTICE_BATCH_SIZE")), concurrency=int(_setting(app, "NOTICE_CONCURRENCY")),
            lease_seconds=float(_setting(app, "NOTICE_LEASE_SECONDS")), retry_delays=tuple(float(d) for d in delays),
            retry_window_seconds=float(_setting(app, "NOTICE_RETRY_WINDOW_SECONDS")),
            push_timeout=float(_setting(app, "NOTICE_PUSH_TIMEOUT_SECONDS")),
            wait_seconds=float(_setting(app, "NOTICE_WAIT_SECONDS")),
            import_quiet_seconds=float(_setting(app, "NOTICE_IMPORT_QUIET_SECONDS")))
    except (TypeError, ValueError):
        raise click.ClickException("NOTICE_* settings must be numbers (NOTICE_RETRY_DELAYS: seconds, "
                                   "comma-separated)") from None
    if value.rate <= 0 or value.batch_size < 1 or value.concurrency < 1 or not 0 <= value.hour <= 23:
        raise click.ClickException("NOTICE_RATE_PER_SECOND, NOTICE_BATCH_SIZE and NOTICE_CONCURRENCY must be "
                                   "positive and NOTICE_HOUR 0-23")
    app.extensions["notice_settings"] = value
    return value




def redis_client():
    """The app's Redis (the rate limiter, the stop flags, the active months)."""
    return current_app.extensions["redis"]


def database():
    """The app's database (the delivery rows, ``storage.notices``)."""
    return current_app.extensions["db"]
