"""Fixtures: a throwaway PostgreSQL database, a Redis DB of our own, a fake LINE, a real SMTP server.

Nothing of ours is mocked: the app talks to real PostgreSQL and Redis; LINE is a local
HTTP server behind ``LINE_API_BASE_URL`` (the real SDK client on the wire); mail goes to
an aiosmtpd server in this process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import psycopg
import pytest
import redis as redis_lib
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import Flask
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from handlers.emulator.line_api_fake import make_blueprint
from handlers.emulator.line_api_fake_richmenu import make_data_blueprint
from handlers.emulator.line_api_recorder import LineApiRecorder
from storage.db import alembic_config
from tests import log_guard

# Property tests: on CI (CI=true) the examples are derived from the test, not drawn at random,
# so a submission passes or fails the same way every time; locally they are drawn afresh.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _redis_test_url(base: str, worker: str | None) -> str:
    """Our Redis DB: ``TEST_REDIS_URL`` (DB 13 by default) for a plain run; under pytest-xdist
    worker ``gwN`` takes the DB N after it (13, 14, ...), since every test flushes its DB."""
    if not worker:
        return base
    head, _, db = base.rpartition("/")
    number = int(db or 0) + int(worker.removeprefix("gw"))
    if number > 15:  # redis-server's default `databases 16`
        raise RuntimeError(f"xdist worker {worker} would use Redis DB {number} (TEST_REDIS_URL={base}): "
                           "lower TEST_REDIS_URL's DB number or run fewer workers")
    return f"{head}/{number}"


REDIS_TEST_URL = _redis_test_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13"),
                                 os.environ.get("PYTEST_XDIST_WORKER"))
CHANNEL_SECRET = "test-channel-secret"
ACCESS_TOKEN = "test-access-token"
SECRET_KEY = "test-secret-key-" + "x" * 32
FAKE_DATA_PREFIX = "/data"  # the fake serves LINE's data host (rich menu images) under this prefix
BOT_USER_ID = "U0123456789abcdef0123456789abcdef"  # webhook "destination": U + 32 hex, as LINE's spec requires


# -- the log guard (issue 14): no personal data, secret or typed text in any log line -------------
OUR_LOGGERS = ("app", "bot", "handlers", "storage")


@pytest.fixture(autouse=True)
def _no_personal_data_in_logs(request, caplog):
    """Every test runs with log capture (our loggers at DEBUG); afterwards no record may hold a
    secret, a password, a full phone/customer number or mail address, or what a customer typed."""
    log_guard.reset()
    for name in OUR_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    if request.node.get_closest_marker("logs_hold_test_values"):
        return
    found = log_guard.check_records(caplog.records)
    assert not found, "personal data or secrets in the logs:\n" + "\n".join(found[:20])


# -- password hashes: argon2id, at cheap parameters where the cost is not what is tested ----------
# The app's hasher (storage.security: argon2-cffi's default, RFC 9106's low-memory profile: 64 MiB,
# 3 passes, 4 lanes) costs a tenth of a second of both cores per login, and the web tests log in
# hundreds of times: it was most of their time. Tests run with the same algorithm at the least
# cost instead; the tests below keep the real parameters, since the cost itself is what they check
# (tests/stress too). tests/test_password_hash.py checks the app's own parameters.
QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
REAL_HASH_TESTS = {
    # an unknown account ID must cost a whole hash, as a wrong password does: a gap under half a hash
    "tests/web/test_security.py::test_a_wrong_password_and_an_unknown_account_id_answer_alike_in_content_and_time",
    # 30 wrong passwords at once, each verification slow: the count must come first
    "tests/web/test_throttle_race.py::test_parallel_wrong_passwords_get_no_more_verifications_than_the_limit",
}


def pytest_collection_modifyitems(config, items):
    """Mark ``REAL_HASH_TESTS``; one of them renamed or gone (its module collected) fails the run
    rather than leaving the check to run on cheap hashes."""
    modules = {}
    for item in items:
        path, _, name = item.nodeid.split("[", 1)[0].partition("::")
        if f"{path}::{name}" in REAL_HASH_TESTS:
            item.add_marker(pytest.mark.real_password_hash)
        if getattr(item, "module", None) is not None:
            modules[path] = item.module
    missing = [name for name in REAL_HASH_TESTS if name.split("::")[0] in modules
               and not hasattr(modules[name.split("::")[0]], name.split("::")[1])]
    if missing:
        raise pytest.UsageError(f"REAL_HASH_TESTS in tests/conftest.py names tests that are not there: {missing}")


@pytest.fixture(autouse=True)
def _quick_password_hashes(request, monkeypatch):
    """``QUICK_HASHER`` in this process for the test (worker processes and gunicorn hash for real)."""
    if request.node.get_closest_marker("real_password_hash") or request.node.get_closest_marker("stress"):
        return
    from storage import security

    monkeypatch.setattr(security, "_hasher", QUICK_HASHER)


# -- the database: PostgreSQL, and SQLite where the embedded default matters ---------------------
@contextmanager
def postgres_database():
    """A fresh PostgreSQL database, migrated to head, dropped afterwards."""
    name = f"aicom_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    from alembic import command

    try:
        command.upgrade(alembic_config(url), "heads")
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite_database(directory):
    """A fresh SQLite file (``make run``'s embedded database), migrated to head."""
    from alembic import command

    url = f"sqlite:///{directory / 'aicom-test.db'}"
    command.upgrade(alembic_config(url), "heads")
    yield url


@pytest.fixture(scope="session")
def database_url():
    """A fresh PostgreSQL database for this test run (``tests/web`` and ``tests/storage`` run on
    SQLite too: see ``both_databases``)."""
    with postgres_database() as url:
        yield url


def both_databases(request, tmp_path_factory):
    """The body of ``tests/web`` and ``tests/storage``'s ``database_url`` (parametrized there with
    ``DATABASES``): each of their tests runs on PostgreSQL and on SQLite, the embedded default."""
    if request.param == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        with sqlite_database(tmp_path_factory.mktemp("sqlite")) as url:
            yield url


DATABASES = ("postgresql", "sqlite")


# -- Redis ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_url():
    client = redis_lib.Redis.from_url(REDIS_TEST_URL)
    client.ping()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()


# -- the browser tests' Chromium ---------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"  # Debian's (`make browser`): Playwright's own download cannot work here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test of the run (a launch took a second or two per
    module); each test opens its own context (own cookies and storage), as before."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# -- fake LINE --------------------------------------------------------------------------------
# How often a test server's serve_forever looks for shutdown(): its default, 0.5 s, was half a
# second of every test that stops a server (served_app, the fake LINEs).
SERVER_POLL_SECONDS = 0.02


class _ServerThread:
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


@pytest.fixture(scope="session")
def fake_line_server():
    recorder = LineApiRecorder(ACCESS_TOKEN)
    fake = Flask("fake_line")
    fake.register_blueprint(make_blueprint(recorder))
    fake.register_blueprint(make_data_blueprint(recorder), url_prefix=FAKE_DATA_PREFIX)  # LINE's data host
    server = _ServerThread(fake)
    yield recorder, f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def line_api(fake_line_server) -> LineApiRecorder:
    """What the bot sent to LINE during this test."""
    recorder, _url = fake_line_server
    recorder.clear()
    recorder.fail_next.clear()
    return recorder


# -- SMTP -------------------------------------------------------------------------------------
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    box, _url = smtp_server
    box.clear()
    return box


# -- the app ----------------------------------------------------------------------------------
@pytest.fixture
def app_config(database_url, redis_url, fake_line_server, smtp_server) -> dict:
    """The configuration the app under test gets (tests may change it before ``app`` is made)."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": fake_line_server[1],
        "LINE_DATA_API_BASE_URL": fake_line_server[1] + FAKE_DATA_PREFIX,
        "SMTP_URL": smtp_server[1],
        "MAIL_FROM": "あいコムこうかマイページ <noreply@aicom-koka.jp>",
        "PUBLIC_BASE_URL": "http://localhost",
        "EMULATOR": False,
        "JOBS_INLINE": False,
    }


@pytest.fixture
def app(app_config, line_api, mailbox):
    """A fresh app on clean tables and a clean Redis DB."""
    application = create_app(app_config)
    db = application.extensions["db"]
    with db.engine.begin() as conn:
        empty_tables(conn)
    application.extensions["redis"].flushdb()
    yield application
    db.engine.dispose()
    application.extensions["redis"].close()  # not left to the garbage collector (an unclosed socket warning)


@pytest.fixture
def make_app(app_config):
    """Build extra apps with changed settings (a broken Redis URL, ...); disposed afterwards."""
    made = []

    def factory(**changes):
        application = create_app(dict(app_config, **changes))
        made.append(application)
        return application

    yield factory
    for application in made:
        application.extensions["db"].engine.dispose()
        application.extensions["redis"].close()


def _table_names() -> list[str]:
    from storage.models import Base

    return [t.name for t in Base.metadata.sorted_tables]


def empty_tables(conn) -> None:
    """Delete every row of our tables and, on PostgreSQL, restart every sequence: what
    ``TRUNCATE ... RESTART IDENTITY`` did, in one round trip and a tenth of the time (TRUNCATE
    makes new files for each table and index; a test leaves a few rows, which DELETE is quick with)."""
    deletes = [f'DELETE FROM "{table}"' for table in reversed(_table_names())]  # children before parents
    if conn.dialect.name == "sqlite":
        for statement in deletes:
            conn.execute(text(statement))
        return
    sequences = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"))
    restarts = [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences.scalars()]
    conn.execute(text("; ".join(deletes + restarts)))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    """A session for checking what the app stored (commits on exit)."""
    with app.extensions["db"].begin() as session:
        yield session


def drain_events(app) -> int:
    """Handle every queued LINE event now, in this thread (what the event workers do)."""
    from handlers.line.worker import drain_events as drain

    return drain(app)


def drain_jobs(app) -> None:
    """Run every queued background job now (what `flask worker` does), in this process."""
    from handlers.jobs.worker import run_worker

    run_worker(app, burst=True)


# -- LINE webhook driver ----------------------------------------------------------------------
def sign(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class LineUser:
    """Sends signed webhooks as one LINE user and reads what the bot answered."""

    def __init__(self, client, api: LineApiRecorder, app, user_id: str | None = None) -> None:
        self.client = client
        self.api = api
        self.app = app
        self.user_id = user_id or "U" + uuid.uuid4().hex

    def _event(self, event_type: str, **extra) -> dict:
        event = {
            "type": event_type,
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24],
            "deliveryContext": {"isRedelivery": False},
        }
        if event_type not in ("unfollow",):
            token = uuid.uuid4().hex
            event["replyToken"] = token
            self.api.reply_token_users[token] = self.user_id
        event.update(extra)
        return event

    def post(self, events: list[dict], signature: str | None = None, drain: bool = True):
        """POST a signed webhook; unless ``drain`` is False, then handle the queued events
        here and now (as the event workers would), so the answers are in when it returns."""
        body = json.dumps({"destination": BOT_USER_ID, "events": events}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Line-Signature": signature if signature is not None else sign(body)}
        response = self.client.post("/callback", data=body, headers=headers)
        if drain and self.app is not None and response.status_code == 200:
            drain_events(self.app)
        return response

    def send_event(self, event: dict) -> list[dict]:
        """Post one event; return the messages replied or pushed to this user because of it."""
        before = len(self.api.messages(self.user_id))
        response = self.post([event])
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.api.messages(self.user_id)[before:]

    def say(self, text: str) -> list[dict]:
        """Send a text message; return the reply messages."""
        return self.send_event(self.text_event(text))

    def text_event(self, text: str) -> dict:
        log_guard.remember_typed(text)
        return self._event("message", message={"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text,
                                               "quoteToken": uuid.uuid4().hex})

    def says(self, text: str) -> str:
        """Send a text; return every text (and Flex altText) replied, joined by newlines."""
        return "\n".join(m.get("text") or m.get("altText", "") for m in self.say(text))

    def sticker(self) -> list[dict]:
        return self.send_event(self._event("message", message={
            "type": "sticker", "id": "1", "packageId": "446", "stickerId": "1988",
            "stickerResourceType": "STATIC", "quoteToken": uuid.uuid4().hex}))

    def follow(self) -> list[dict]:
        return self.send_event(self._event("follow", follow={"isUnblocked": False}))

    def postback(self, data: str) -> list[dict]:
        return self.send_event(self._event("postback", postback={"data": data}))


@pytest.fixture
def line_user(client, line_api, app):
    """A LINE user talking to the bot; call it again (``make_line_user``) for more users."""
    return LineUser(client, line_api, app)


@pytest.fixture
def make_line_user(client, line_api, app):
    return lambda user_id=None: LineUser(client, line_api, app, user_id)


def quick_reply_labels(message: dict) -> list[str]:
    return [item["action"]["label"] for item in (message.get("quickReply") or {}).get("items", [])]
