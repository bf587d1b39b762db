"""Fixtures: a throwaway PostgreSQL database, a Redis DB of our own, a fake LINE, a real SMTP server.

Nothing of ours is mocked: the app talks to real PostgreSQL and Redis; LINE is a local
HTTP server behind ``LINE_API_BASE_URL`` (the real SDK client on the wire); mail goes to
an aiosmtpd server in this process.
"""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import contextmanager

import psycopg
import pytest
import redis as redis_lib
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import Flask
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from werkzeug.routing import Rule

from app import create_app
from handlers.emulator.line_api_fake import make_blueprint
from handlers.emulator.line_api_fake_richmenu import make_data_blueprint
from handlers.emulator.line_api_recorder import LineApiRecorder
from storage.db import DatabaseUnavailable, alembic_config, make_engine
from tests import log_guard
from tests.chat_driver import ChatUser
from tests.line_driver import ACCESS_TOKEN, CHANNEL_SECRET, LineUser
from tests.servers import Mailbox, ServerThread, free_port

# A test builds a fresh app; werkzeug compiles two URL builders for each of its routes (Python
# source through ``ast`` and ``compile``: about 10 ms an app, a tenth of a small test). A builder
# depends only on the rule's parts, its defaults and whether unknown arguments are appended, so
# the tests compile each once per process; the app in production is built once per process anyway.
_builders: dict = {}
_compile_builder = Rule._compile_builder


def _compiled_once(rule: Rule, append_unknown: bool = True):
    try:
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
    except TypeError:
        return _compile_builder(rule, append_unknown)
    if key not in _builders:
        _builders[key] = _compile_builder(rule, append_unknown)
    return _builders[key]


Rule._compile_builder = _compiled_once

# Property tests: on CI (CI=true) the examples are derived from the test, not drawn at random,
# so a submission passes or fails the same way every time; locally they are drawn afresh.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _redis_test_url(base: str, worker: str | None) -> str:
    """Our Redis DB: ``TEST_REDIS_URL`` (DB 12 by default) for a plain run; under pytest-xdist
    worker ``gwN`` takes the DB N after it (12, 13, ...), since every test flushes its DB."""
    if not worker:
        return base
    head, _, db = base.rpartition("/")
    number = int(db or 0) + int(worker.removeprefix("gw"))
    if number > 15:  # redis-server's default `databases 16`
        raise RuntimeError(f"xdist worker {worker} would use Redis DB {number} (TEST_REDIS_URL={base}): "
                           "lower TEST_REDIS_URL's DB number or run fewer workers")
    return f"{head}/{number}"


REDIS_TEST_URL = _redis_test_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12"),
                                 os.environ.get("PYTEST_XDIST_WORKER"))
SECRET_KEY = "test-secret-key-" + "x" * 32
FAKE_DATA_PREFIX = "/data"  # the fake serves LINE's data host (rich menu images) under this prefix


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


# The longest tests (a real browser, worker processes killed and restarted) go first, so that
# pytest-xdist (``--dist load`` hands tests out in this order) spreads them over its workers while
# the short ones fill the gaps at the end: last, one of them kept a worker busy alone.
SLOW_FIRST = ("_browser.py", "tests/line/test_events.py", "tests/ops/test_shutdown.py",
              "tests/line/test_notices.py", "tests/line/test_hostile_input.py", "tests/bot/test_voice.py",
              "tests/understanding/test_reading.py")


def pytest_configure(config):
    """More xdist workers than Redis has DBs after ``TEST_REDIS_URL``'s: say so once, before any
    worker starts (a worker that fails at import is restarted by xdist over and over)."""
    workers = getattr(config.option, "numprocesses", None)
    if os.environ.get("PYTEST_XDIST_WORKER") or not isinstance(workers, int) or workers < 1:
        return
    base = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
    try:
        _redis_test_url(base, f"gw{workers - 1}")
    except RuntimeError as exc:  # the last worker's DB is past 15
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_modifyitems(config, items):
    """Mark ``REAL_HASH_TESTS``; one of them renamed or gone (its module collected) fails the run
    rather than leaving the check to run on cheap hashes. Put the ``SLOW_FIRST`` tests first."""
    items.sort(key=lambda item: not item.nodeid.split("::")[0].endswith(SLOW_FIRST))  # stable: else as collected
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
@pytest.fixture(scope="session")
def fake_line_server():
    recorder = LineApiRecorder(ACCESS_TOKEN)
    fake = Flask("fake_line")
    fake.register_blueprint(make_blueprint(recorder))
    fake.register_blueprint(make_data_blueprint(recorder), url_prefix=FAKE_DATA_PREFIX)  # LINE's data host
    server = ServerThread(fake)
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
@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    port = free_port()
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


# The ``app`` fixture's apps share one engine per database URL in a test process: a new PostgreSQL
# connection costs about 5 ms of CPU (a server process forked, its catalogue caches filled), and
# each fresh engine opened three or four of them a test. The tables are emptied and the pool's
# connections are rolled back on return as always; ``make_app``'s apps (changed settings, a broken
# URL) and every engine a test makes itself stay its own.
_engines: dict[str, object] = {}


def _shared_engine(url: str):
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@pytest.fixture
def app(app_config, line_api, mailbox, monkeypatch):
    """A fresh app on clean tables and a clean Redis DB."""
    from storage import db as storage_db

    with monkeypatch.context() as patched:
        patched.setattr(storage_db, "make_engine", _shared_engine)
        application = create_app(app_config)
    db = application.extensions["db"]
    try:
        with db.engine.begin() as conn:
            empty_tables(conn)
    except DatabaseUnavailable:  # a test before this one stopped a pooled connection's server process
        db.engine.dispose()
        with db.engine.begin() as conn:
            empty_tables(conn)
    application.extensions["redis"].flushdb()
    yield application
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
    """Delete every row of our tables and, on PostgreSQL, set every sequence back to 1: what
    ``TRUNCATE ... RESTART IDENTITY`` did, in one round trip and a tenth of the time (TRUNCATE
    makes new files for each table and index; a test leaves a few rows, which DELETE is quick
    with; ``setval`` is not DDL, as ``ALTER SEQUENCE ... RESTART`` is: 0.9 ms instead of 4.8)."""
    deletes = [f'DELETE FROM "{table}"' for table in reversed(_table_names())]  # children before parents
    if conn.dialect.name == "sqlite":
        for statement in deletes:
            conn.execute(text(statement))
        return
    sequences = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"))
    restarts = ", ".join(f"setval('\"{name}\"', 1, false)" for name in sequences.scalars())
    conn.execute(text("; ".join(deletes) + (f"; SELECT {restarts}" if restarts else "")))


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


@pytest.fixture
def line_user(client, line_api, app):
    """A LINE user talking to the bot; call it again (``make_line_user``) for more users."""
    return LineUser(client, line_api, app)


@pytest.fixture
def make_line_user(client, line_api, app):
    return lambda user_id=None: LineUser(client, line_api, app, user_id)




@pytest.fixture
def chat_user(app):
    """A customer talking to the engine directly (no webhook, no fake LINE): the conversation tests' driver."""
    return ChatUser(app)


@pytest.fixture
def make_chat_user(app):
    return lambda user_id=None: ChatUser(app, user_id)
