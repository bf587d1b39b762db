"""Logging for every process: plain lines or JSON lines (``LOG_FORMAT``), with a request id.

Every message is written on one line: control characters in it (a newline or NUL in an
event id a sender made up) are escaped by both formats.

A web request gets an id (``X-Request-Id`` when a trusted proxy set it, else a new one),
answered back in ``X-Request-Id``; ``handlers.jobs`` carries the id of the request that
queued a job into the job's run (RQ worker or the in-process pool), so one customer action
can be followed from the webhook to the mail it caused. Every record carries it as
``request_id``.

What may be logged is decided where the record is made (no chat text, passwords, tokens,
full phone or customer numbers or mail addresses); ``pseudonym`` gives a short keyed hash
(HMAC with ``SECRET_KEY``) for an identifier that must be correlated across lines.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask, current_app, g, request

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
LOG_FORMATS = ("plain", "json")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


# Control characters (newlines, NUL, escape sequences, the Unicode line separators) in a logged
# value would split a line or forge one: every message is written with them escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as ``\\xNN`` / ``\\uNNNN`` (one line, no NUL)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def _message(record: logging.LogRecord) -> str:
    return escape_controls(record.getMessage())


def current_request_id() -> str | None:
    """The id of the request (or of the job's originating request) being handled, if any."""
    return request_id_var.get()


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Run a block (a job) under a request id."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


def pseudonym(value: str, secret: str | None = None) -> str:
    """A short keyed hash of an identifier for logs: the same value gives the same 12 characters."""
    key = secret if secret is not None else (current_app.config.get("SECRET_KEY") or "")
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:12]


class PlainFormatter(logging.Formatter):
    """The classic one-line format, with the request id (``-`` outside a request)."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id_var.get() or "-"
        saved = record.msg, record.args
        record.msg, record.args = _message(record), None  # escaped for this line only
        try:
            return super().format(record)
        finally:
            record.msg, record.args = saved


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO 8601), level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for ``LOG_FORMAT`` (``plain`` or ``json``)."""
    return JsonFormatter() if log_format == "json" else PlainFormatter()


def configure(log_format: str, level: str = "INFO") -> None:
    """Give the root logger one stream handler with our formatter (once per process)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_aicom", False)]
    if ours:
        ours[0].setFormatter(formatter(log_format))
    else:
        handler = logging.StreamHandler()
        handler._aicom = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
    root.setLevel(level)
    # gunicorn's own loggers (when gunicorn runs us) write through their handlers: same format.
    for name in ("gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter(log_format))


def _begin_request() -> None:
    given = request.headers.get("X-Request-Id", "")
    trusted = current_app.config.get("TRUSTED_PROXY_HOPS", 0) > 0  # only a proxy we trust may name it
    request_id = given if trusted and _REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex
    g._request_id_token = request_id_var.set(request_id)


def _answer_request_id(response):
    request_id = request_id_var.get()
    if request_id:
        response.headers["X-Request-Id"] = request_id
    return response


def _end_request(_exc) -> None:
    token = g.pop("_request_id_token", None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:  # set in another context (should not happen); leave it
            pass


def init_app(app: Flask) -> None:
    """Configure logging for ``LOG_FORMAT``/``LOG_LEVEL`` and give every request an id."""
    configure(app.config.get("LOG_FORMAT", "plain"), app.config.get("LOG_LEVEL", "INFO"))
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)
    app.after_request(_answer_request_id)
    app.teardown_request(_end_request)
