"""The one error tree: every exception class the service defines derives from ``storage.errors.ServiceError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bot
import handlers
import storage
from storage.errors import Misconfigured, Refused, ServiceError, Unavailable

# The fake LINE API stands in for LINE's own errors, not ours.
FOREIGN = {"handlers.emulator.line_api_fake", "handlers.emulator.line_schema"}


def _our_exceptions() -> list[type[BaseException]]:
    found = []
    for package in (bot, storage, handlers):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name in FOREIGN or ".migrations" in info.name:
                continue
            module = importlib.import_module(info.name)
            found += [obj for _name, obj in inspect.getmembers(module, inspect.isclass)
                      if issubclass(obj, BaseException) and obj.__module__ == info.name]
    return found


def test_every_error_the_service_raises_on_purpose_is_in_the_tree():
    strays = [f"{cls.__module__}.{cls.__name__}" for cls in _our_exceptions()
              if not issubclass(cls, ServiceError) and not cls.__name__.startswith("_")]
    assert strays == []


@pytest.mark.parametrize(("name", "branch"), [
    ("storage.redis_client.StateUnavailable", Unavailable), ("storage.events.QueueFull", Unavailable),
    ("storage.db.DatabaseUnavailable", Unavailable),
    ("handlers.mail.MailError", Unavailable), ("handlers.line.turn.Transient", Unavailable),
    ("bot.errors.InvalidInput", Refused), ("storage.accounts.LoginIdTaken", Refused),
    ("handlers.cli.csv_table.ImportFailed", Refused), ("app.ConfigError", Misconfigured),
    ("storage.redis_url.RedisUrlError", ValueError),  # still what callers that parse URLs catch
])
def test_each_branch_means_one_thing(name, branch):
    module, _, cls = name.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), cls), branch)


# -- foreign errors, translated where the service meets them ------------------------------------
def test_a_database_nobody_answers_at_is_database_unavailable():
    from storage.db import DatabaseUnavailable, make_engine

    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")  # nothing listens there
    try:
        with pytest.raises(DatabaseUnavailable) as raised, engine.connect():
            pass
        assert raised.value.__cause__ is not None and "none" not in str(raised.value)  # its class, never the URL
    finally:
        engine.dispose()


def test_every_pooled_connection_busy_past_the_timeout_is_database_unavailable(database_url):
    from sqlalchemy import create_engine

    from storage.db import DatabaseUnavailable, _Pool

    engine = create_engine(database_url, poolclass=_Pool, pool_size=1, max_overflow=0, pool_timeout=0.1)
    try:
        with engine.connect(), pytest.raises(DatabaseUnavailable), engine.connect():
            pass
    finally:
        engine.dispose()


def test_a_broken_rule_stays_sqlalchemy_s_own(database_url):
    from sqlalchemy import exc, text

    from storage.db import make_engine

    engine = make_engine(database_url)
    try:  # PostgreSQL says ProgrammingError; SQLite says OperationalError, which here is no outage
        with pytest.raises((exc.ProgrammingError, exc.OperationalError)), engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()


def test_a_locked_sqlite_database_is_database_unavailable(tmp_path):
    from sqlalchemy import text

    from storage.db import DatabaseUnavailable, make_engine

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    engine, holder = make_engine(url), make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with holder.connect() as held:
            held.exec_driver_sql("BEGIN IMMEDIATE")  # another writer, holding the write lock
            with pytest.raises(DatabaseUnavailable), engine.connect() as conn:
                conn.execute(text("PRAGMA busy_timeout = 50"))  # not the 15 s the engine waits
                conn.execute(text("INSERT INTO t VALUES (1)"))
            held.rollback()
    finally:
        engine.dispose()
        holder.dispose()
