"""The local LINE emulator at /emulator (``EMULATOR=1``, on under ``make run``)."""

from __future__ import annotations

from flask import Flask

from handlers.line_api_fake import LineApiRecorder, make_blueprint


def init_app(app: Flask) -> None:
    """Mount the fake Messaging API under /emulator/line (the page comes with issue 5)."""
    recorder = LineApiRecorder(app.config["LINE_CHANNEL_ACCESS_TOKEN"])
    app.extensions["emulator_recorder"] = recorder
    bp = make_blueprint(recorder, name="emulator_line_api")
    from handlers.web import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp, url_prefix="/emulator/line")
