"""Servers the tests start in this process: our app over HTTP (``served_app``), the fake LINE's
thread (``ServerThread``), the SMTP mailbox (``Mailbox``), and ``make run``'s configuration."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from storage.db import alembic_config

# How often a test server's serve_forever looks for shutdown(): its default, 0.5 s, was half a
# second of every test that stops a server (served_app, the fake LINEs).
SERVER_POLL_SECONDS = 0.02


class ServerThread:
    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, args=(SERVER_POLL_SECONDS,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


class _LateApp:
    """A WSGI app filled in after the server has a port (the app needs its own URL)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@contextmanager
def served_app(config_for):
    """Our app served over HTTP in a thread, for a browser or the emulator to reach: ``config_for(base)``
    gives its configuration once the server's URL is known. Yields ``(app, base)``; stops it all after."""
    late = _LateApp()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    application = create_app(config_for(base))
    late.app = application
    thread = threading.Thread(target=server.serve_forever, args=(SERVER_POLL_SECONDS,), daemon=True)
    thread.start()
    try:
        yield application, base
    finally:
        server.shutdown()
        server.server_close()
        worker = application.extensions.get("event_worker")  # started by the first request served
        if worker is not None:
            worker.stop(timeout=5)
        runner = application.extensions.get("job_runner")
        if runner is not None:
            runner.pool.shutdown(wait=True)
        application.extensions["db"].engine.dispose()
        application.extensions["redis"].close()


def make_run_config(directory, **config) -> dict:
    """``make run``'s setup: a migrated SQLite file in ``directory``, the in-process Redis stand-in,
    jobs in-process, demo LINE credentials; ``config`` adds or overrides."""
    from alembic import command

    database_url = f"sqlite:///{directory / 'aicom.db'}"
    command.upgrade(alembic_config(database_url), "heads")
    return {"DATABASE_URL": database_url, "REDIS_URL": None, "LINE_CHANNEL_SECRET": "demo-channel-secret",
            "LINE_CHANNEL_ACCESS_TOKEN": "demo-channel-access-token", "JOBS_INLINE": True, **config}


@dataclass
class Mailbox:
    """Mails received by the in-process SMTP server."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)  # each mail's RCPT TO addresses
    raw: list[bytes] = field(default_factory=list)  # each mail as the server received it (headers as sent)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        data = envelope.original_content or envelope.content
        msg = message_from_bytes(data, policy=policy.default)
        with self._lock:
            self.messages.append(msg)
            self.recipients.append(list(envelope.rcpt_tos))
            self.raw.append(bytes(data))
        return "250 OK"

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.recipients.clear()
            self.raw.clear()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self._lock:
            return list(self.messages)

    @staticmethod
    def body(msg: EmailMessage) -> str:
        return msg.get_body(preferencelist=("plain",)).get_content()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
