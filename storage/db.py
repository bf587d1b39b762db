"""Database engine and sessions, one per app in ``app.extensions["db"]``; the schema migrations
(``upgrade``, ``downgrade``, ``revision``: the ``db`` commands of ``handlers.cli.db`` call them).

Sessions are opened at the edges (``with db.begin() as session:``); repository
functions take the session and never commit.

This is where the service meets the database, so SQLAlchemy's errors that mean "not now" are
translated here into ``DatabaseUnavailable`` (an ``Unavailable``): a server that cannot be
reached or went away, an operational failure (a deadlock, a statement cancelled), every pooled
connection busy past ``pool_timeout``. Its users catch our name, not SQLAlchemy's tree. Errors
that mean "never" (``IntegrityError``, a programming error) stay SQLAlchemy's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from storage.errors import Unavailable

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# A database that takes the TCP connection but never answers (overloaded, a stuck pooler)
# must fail fast: the webhook has seconds, and /healthz must say 503 rather than hang.
CONNECT_TIMEOUT_SECONDS = 5
# A pooled connection idle longer than this is pinged before use (a restarted server or a
# proxy's idle cut leaves dead ones behind); one in steady use is not: under load a
# ``SELECT 1`` per checkout was a round trip and ~0.1 ms of CPU on every turn.
PING_AFTER_IDLE_SECONDS = 2.0


class DatabaseUnavailable(Unavailable):
    """The database did not answer, dropped the connection, or could not do it now: try again later.
    Its text names the cause's class only (never a statement or its parameters)."""

    def __init__(self, cause: BaseException, connection_invalidated: bool = False) -> None:
        super().__init__(f"database unavailable ({cause.__class__.__name__})")
        self.connection_invalidated = connection_invalidated


def unavailable(error: BaseException, disconnect: bool = False) -> DatabaseUnavailable | None:
    """``error`` as ``DatabaseUnavailable`` when it means "not now", else None."""
    if disconnect or isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return DatabaseUnavailable(error, connection_invalidated=disconnect)
    return None


def _translate(context: ExceptionContext) -> BaseException | None:
    """SQLAlchemy's ``handle_error`` hook: what it returns is raised instead (from the original)."""
    return unavailable(context.sqlalchemy_exception or context.original_exception, context.is_disconnect)


def _translate_sqlite(context: ExceptionContext) -> BaseException | None:
    """SQLite's ``OperationalError`` also means a missing table or bad SQL: only "locked" (another
    writer held it past the busy timeout) means "not now"."""
    if context.is_disconnect or "locked" in str(context.original_exception):
        return DatabaseUnavailable(context.original_exception, connection_invalidated=context.is_disconnect)
    return None


class _Pool(QueuePool):
    """The pool, whose "every connection busy past ``pool_timeout``" is ours too."""

    def connect(self):
        try:
            return super().connect()
        except exc.TimeoutError as error:
            raise DatabaseUnavailable(error) from error


@dataclass
class Database:
    """The engine and session factory of one app."""

    engine: Engine
    sessions: sessionmaker[Session]

    def begin(self):
        """A session inside a transaction that commits on success and rolls back on error."""
        return self.sessions.begin()

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def make_engine(url: str) -> Engine:
    """An engine with sane pool settings; SQLite gets foreign keys switched on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        event.listen(engine, "handle_error", _translate_sqlite)
        return engine
    parsed = make_url(url)
    connect_args = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:  # the URL's own wins
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    # hide_parameters: error messages must not quote customers' data into the logs.
    engine = create_engine(url, poolclass=_Pool, pool_size=5, max_overflow=10, pool_timeout=5, pool_recycle=3600,
                           hide_parameters=True, connect_args=connect_args)
    event.listen(engine, "handle_error", _translate)
    ping_idle_connections(engine)
    return engine


def ping_idle_connections(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """``pool_pre_ping``, but only for connections that sat idle in the pool: a dead one is
    replaced before use (the pool retries the checkout), a busy one costs nothing. A server
    that dies under load fails the statements in flight; the pool then drops every older
    connection, and the callers' retries (event turns, jobs) find fresh ones."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as error:  # noqa: BLE001 - any failure means: not this connection
            raise exc.DisconnectionError() from error


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at our migrations folder and the given URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def get_db(app: Flask | None = None) -> Database:
    """The app's database."""
    return (app or current_app).extensions["db"]


def init_app(app: Flask) -> None:
    """Create the engine for ``DATABASE_URL``."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db"] = Database(engine, sessionmaker(engine, expire_on_commit=False))


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the schema to the newest migration(s) (or ``revision``)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    """Step the schema back (one migration by default)."""
    command.downgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a new migration from the models (developers)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
