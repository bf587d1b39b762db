"""Bulk writes for the importers and the demo data: set-based, never row by row through the ORM.

The one place where customers are upserted and statements replaced, used by
``import-customers``, ``import-statements`` and ``seed-demo`` alike. Each function takes
the session and never commits (the caller's transaction makes an import all-or-nothing).

- Existing rows are read with a few chunked ``IN`` queries, not one query per row.
- Writes are executemany ``INSERT … ON CONFLICT`` through the dialect's own ``insert``
  (PostgreSQL and SQLite both), in chunks so a progress bar can follow them.
- A replaced statement keeps its id (links to it stay valid); its items are deleted and
  inserted again, and its total is the sum of the new items. The statement rows are
  upserted *before* their items are deleted: the upsert locks them, so a second import of
  the same (customer, month) running at the same time waits, then deletes the first one's
  items and writes its own (the later import wins whole, never a mix of both).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from storage.models import Customer, Statement, StatementItem

CHUNK = 5000  # rows per executemany / IN list; well below SQLite's 32766 bound parameters
CUSTOMER_OPTIONAL_FIELDS = ("name", "email")

Progress = Callable[[int], None]
T = TypeVar("T")


@dataclass(frozen=True)
class CustomerRecord:
    """A customer as the billing system states it, already canonical (see ``bot.normalize``)."""

    customer_number: str
    phone: str
    name_kana: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class CustomerCounts:
    """What an upsert did."""

    new: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass(frozen=True)
class StatementRecord:
    """One month's bill for one customer, with its line items in order (name, whole yen)."""

    customer_id: int
    billing_month: date  # the 1st of the month
    items: tuple[tuple[str, int], ...]
    due_date: date | None = None
    payment_method: str | None = None

    @property
    def total(self) -> int:
        return sum(amount for _name, amount in self.items)


@dataclass(frozen=True)
class StatementCounts:
    """What a replace did."""

    new: int
    replaced: int
    items: int
    customers: int

    @property
    def statements(self) -> int:
        return self.new + self.replaced


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` values."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _dialect_insert(session: Session, table: Table):
    """``INSERT`` with ``ON CONFLICT`` support for the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two databases the service supports
        raise NotImplementedError(f"bulk upsert is not implemented for {dialect}")
    return insert(table)


def _tick(progress: Progress | None, count: int) -> None:
    if progress is not None:
        progress(count)


def customer_ids(session: Session, customer_numbers: Iterable[str]) -> dict[str, int]:
    """Map canonical customer numbers to customer ids; unknown numbers are left out."""
    numbers = sorted(set(customer_numbers))
    found: dict[str, int] = {}
    for part in chunks(numbers):
        rows = session.execute(select(Customer.customer_number, Customer.id).where(Customer.customer_number.in_(part)))
        found.update({number: customer_id for number, customer_id in rows})
    return found


def upsert_customers(
    session: Session,
    records: Sequence[CustomerRecord],
    now: datetime,
    fields: Collection[str] = CUSTOMER_OPTIONAL_FIELDS,
    progress: Progress | None = None,
) -> CustomerCounts:
    """Insert new customers and update changed ones, keyed by customer number.

    ``fields`` names the optional columns (``name``, ``email``) the source carries: only
    those are overwritten on existing customers (a file without an ``email`` column keeps
    the stored addresses). Unchanged customers are not written at all.
    """
    updated_fields = ("phone", "name_kana", *[f for f in CUSTOMER_OPTIONAL_FIELDS if f in fields])
    existing: dict[str, tuple] = {}
    for part in chunks(sorted({r.customer_number for r in records})):
        columns = [Customer.customer_number, *(getattr(Customer, f) for f in updated_fields)]
        for row in session.execute(select(*columns).where(Customer.customer_number.in_(part))):
            existing[row[0]] = tuple(row[1:])

    new = updated = unchanged = 0
    to_write: list[dict[str, Any]] = []
    for record in records:
        before = existing.get(record.customer_number)
        if before is None:
            new += 1
        elif before == tuple(getattr(record, f) for f in updated_fields):
            unchanged += 1
            continue
        else:
            updated += 1
        to_write.append({
            "customer_number": record.customer_number,
            "phone": record.phone,
            "name_kana": record.name_kana,
            "name": record.name,
            "email": record.email,
            "created_at": now,
            "updated_at": now,
        })
    _tick(progress, unchanged)

    table = Customer.__table__
    insert = _dialect_insert(session, table)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.customer_number],
        set_={name: insert.excluded[name] for name in (*updated_fields, "updated_at")},
    )
    for part in chunks(to_write):
        session.execute(upsert, list(part))
        _tick(progress, len(part))
    return CustomerCounts(new=new, updated=updated, unchanged=unchanged)


def _statement_ids(session: Session, keys: Collection[tuple[int, date]]) -> dict[tuple[int, date], int]:
    """Ids of the existing statements among (customer id, billing month) keys."""
    months = sorted({month for _cid, month in keys})
    customers = sorted({cid for cid, _month in keys})
    found: dict[tuple[int, date], int] = {}
    for part in chunks(customers):
        rows = session.execute(
            select(Statement.customer_id, Statement.billing_month, Statement.id)
            .where(Statement.customer_id.in_(part), Statement.billing_month.in_(months))
        )
        for customer_id, month, statement_id in rows:
            if (customer_id, month) in keys:
                found[(customer_id, month)] = statement_id
    return found


def replace_statements(
    session: Session,
    records: Sequence[StatementRecord],
    now: datetime,
    progress: Progress | None = None,
) -> StatementCounts:
    """Replace each given (customer, month) statement whole: new items, new total, same statement id.

    Statements of other months are left alone. ``progress`` is called with the number of
    items written as they are written.
    """
    by_key = {(r.customer_id, r.billing_month): r for r in records}
    if len(by_key) != len(records):
        raise ValueError("each (customer, billing month) may be given once")
    before = _statement_ids(session, by_key.keys())

    table = Statement.__table__
    insert = _dialect_insert(session, table)
    # Plain executemany (psycopg pipelines it) and one more SELECT for the ids measured faster
    # than RETURNING, which makes SQLAlchemy build huge multi-row VALUES statements.
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.customer_id, table.c.billing_month],
        set_={name: insert.excluded[name] for name in ("due_date", "payment_method", "total", "imported_at")},
    )
    rows = [
        {
            "customer_id": r.customer_id,
            "billing_month": r.billing_month,
            "due_date": r.due_date,
            "payment_method": r.payment_method,
            "total": r.total,
            "imported_at": now,
        }
        for r in sorted(records, key=lambda r: (r.customer_id, r.billing_month))  # one lock order for all
    ]
    for part in chunks(rows):
        session.execute(upsert, list(part))
    after = _statement_ids(session, by_key.keys())

    # Only now, with the statement rows locked by the upsert, are their old items removed.
    for part in chunks(sorted(after.values())):
        session.execute(delete(StatementItem).where(StatementItem.statement_id.in_(part)))

    items = [
        {"statement_id": after[key], "position": position, "name": name, "amount": amount}
        for key, record in by_key.items()
        for position, (name, amount) in enumerate(record.items, start=1)
    ]
    insert_items = StatementItem.__table__.insert()  # executemany: psycopg pipelines it
    for part in chunks(items):
        session.execute(insert_items, list(part))
        _tick(progress, len(part))
    return StatementCounts(
        new=len(by_key) - len(before),
        replaced=len(before),
        items=len(items),
        customers=len({cid for cid, _month in by_key}),
    )

