"""The statements every LINE turn runs, compiled once and run straight on the driver.

A Core statement executed through SQLAlchemy costs about 130 µs of CPU where the round trip
itself costs about 75 µs: the cache key, the compiled-cache lookup, the execution context and
the result object, on every call. The handful of statements each 今月の料金 turn runs (in
``storage.bills``, ``storage.handoffs``, ``storage.outbox``) are ``Prepared``: on PostgreSQL
with psycopg they go to the DBAPI connection of the session's own transaction, as the SQL
SQLAlchemy compiled for that dialect once. Errors come back as through SQLAlchemy: the ones that
mean "not now" as ``storage.db.DatabaseUnavailable`` (the connection invalidated when the
server went away, as SQLAlchemy itself would), the others as SQLAlchemy's (``IntegrityError`` …),
without the parameters in their text. On any other database (SQLite under ``make run``) they run through
Core, unchanged.

Only statements whose columns psycopg reads and writes as SQLAlchemy would (integers, text,
dates, aware datetimes, booleans: no result processors to skip) belong here.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import exc
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from storage.db import unavailable


class Prepared:
    """A Core statement run on the driver where that pays (see the module's text)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[int, tuple[str, dict[str, Any]]] = {}  # by dialect: SQL, default parameters

    def _sql(self, dialect) -> tuple[str, dict[str, Any]]:
        found = self._compiled.get(id(dialect))
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            found = (str(compiled), {k: v for k, v in compiled.params.items() if v is not None})
            self._compiled[id(dialect)] = found
        return found

    def rows(self, session: Session, params: dict[str, Any]) -> list[tuple]:
        """The rows it returns (none for a statement that returns none), inside the session's transaction."""
        conn = session.connection()
        dialect = conn.dialect
        if dialect.name != "postgresql" or dialect.driver != "psycopg":
            result = conn.execute(self.statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        sql, defaults = self._sql(dialect)
        raw = conn.connection.driver_connection
        values = {**defaults, **params} if defaults else params
        try:
            cursor = raw.execute(sql, values)
            return cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as error:
            invalidated = dialect.is_disconnect(error, raw, None)
            if invalidated:
                conn.invalidate(error)
            wrapped = exc.DBAPIError.instance(sql, values, error, psycopg.Error, hide_parameters=True,
                                              connection_invalidated=invalidated, dialect=dialect)
            raise (unavailable(wrapped, invalidated) or wrapped) from error

    def first(self, session: Session, params: dict[str, Any]) -> tuple | None:
        found = self.rows(session, params)
        return found[0] if found else None
