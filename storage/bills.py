"""Statements as customers see them (the 2020-07 cut-off, the one-year window) and bill detail links.

The window rule, shared by the chat's 料金一覧 and the web's ご利用料金の一覧: the
billing months from the newest statement back eleven months (at most one year), none
before 2020-07, newest first. A single month asked for by name (chat or detail page)
is shown for any month from 2020-07 on.

A bill link is a bearer link: a random token (stored as its SHA-256) that opens one
statement for one account for ``BILL_LINK_SECONDS``. It is not spent on use (the
customer may tap 「明細を見る」 again within the 15 minutes); a password reset revokes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple, Protocol

from sqlalchemy import and_, bindparam, insert, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Account, LineLink, LinkToken, Statement, StatementItem
from storage.security import hash_token, new_token
from storage.sql import Prepared
from storage.timezone import TOKYO

EARLIEST_MONTH = date(2020, 7, 1)  # older statements are never shown
WINDOW_MONTHS = 12
BILL_LINK_SECONDS = 15 * 60
BILL_PURPOSE = "bill"
MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger one in a URL is no statement, not a database error


def aware(moment: datetime) -> datetime:
    """A stored time made comparable: SQLite hands back naive values (written as Tokyo wall time)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TOKYO)


def tokyo(moment: datetime) -> datetime:
    """``moment`` in Asia/Tokyo, for writing and comparing in SQL: SQLite keeps only the wall time,
    so every time stored or compared there must be Tokyo's, whatever zone the caller's clock reports."""
    return aware(moment).astimezone(TOKYO)


def month_start(day: date) -> date:
    """The first of the month ``day`` falls in."""
    return date(day.year, day.month, 1)


def add_months(month: date, count: int) -> date:
    """``month`` moved by ``count`` months (either way), kept on the 1st."""
    index = month.year * 12 + (month.month - 1) + count
    return date(index // 12, index % 12 + 1, 1)


def newest_statement(session: Session, customer_id: int) -> Statement | None:
    """The customer's newest statement from 2020-07 on, items loaded."""
    return session.scalar(
        select(Statement).options(selectinload(Statement.items))
        .where(Statement.customer_id == customer_id, Statement.billing_month >= EARLIEST_MONTH)
        .order_by(Statement.billing_month.desc()).limit(1))


class BillItem(NamedTuple):
    name: str
    amount: int


@dataclass(frozen=True)
class Bill:
    """A statement as the chat shows it: read with one prepared statement (``storage.sql``; ORM
    objects cost more CPU than the rest of a 今月の料金 turn together)."""

    id: int
    customer_id: int
    billing_month: date
    total: int
    due_date: date | None
    payment_method: str | None
    items: tuple[BillItem, ...]


@dataclass(frozen=True)
class LinkedAccount:
    """The account a LINE user is linked to: what the chat needs of it."""

    id: int
    customer_id: int
    status: str


class _Owned(Protocol):
    """An account or a statement, as a bill link needs it (ORM row or plain value)."""

    id: int
    customer_id: int


# The chat's statements, built and compiled once (``storage.sql``).
_accounts, _links = Account.__table__, LineLink.__table__
_statements, _items = Statement.__table__, StatementItem.__table__
_BILL_COLUMNS = (_statements.c.id, _statements.c.customer_id, _statements.c.billing_month, _statements.c.total,
                 _statements.c.due_date, _statements.c.payment_method, _items.c.name, _items.c.amount)
# The linked account and its statement for a month, with the items, in one round trip.
_LINKED_BILL = Prepared(
    select(_accounts.c.id, _accounts.c.customer_id, _accounts.c.status, *_BILL_COLUMNS)
    .select_from(_links.join(_accounts, _accounts.c.id == _links.c.account_id)
                 .outerjoin(_statements, and_(_statements.c.customer_id == _accounts.c.customer_id,
                                              _statements.c.billing_month == bindparam("month")))
                 .outerjoin(_items, _items.c.statement_id == _statements.c.id))
    .where(_links.c.line_user_id == bindparam("line_user_id"))
    .order_by(_items.c.position))
_LINKED_ACCOUNT = Prepared(select(_accounts.c.id, _accounts.c.customer_id, _accounts.c.status)
                           .select_from(_links.join(_accounts, _accounts.c.id == _links.c.account_id))
                           .where(_links.c.line_user_id == bindparam("line_user_id")))
_NEWEST_MONTH = (select(_statements.c.billing_month)
                 .where(_statements.c.customer_id == bindparam("customer_id"),
                        _statements.c.billing_month >= EARLIEST_MONTH)
                 .order_by(_statements.c.billing_month.desc()).limit(1).scalar_subquery())
_NEWEST_BILL = Prepared(select(*_BILL_COLUMNS)
                        .select_from(_statements.outerjoin(_items, _items.c.statement_id == _statements.c.id))
                        .where(_statements.c.customer_id == bindparam("customer_id"),
                               _statements.c.billing_month == _NEWEST_MONTH)
                        .order_by(_items.c.position))
_link_columns = ("token_hash", "purpose", "account_id", "statement_id", "created_at", "expires_at")
_INSERT_LINK = Prepared(insert(LinkToken.__table__).values({c: bindparam(c) for c in _link_columns}))


def _bill(rows: list, offset: int = 0) -> Bill | None:
    """A ``Bill`` from the rows of a statement joined with its items (columns ``_BILL_COLUMNS``
    from ``offset``); None when the statement is missing."""
    if not rows or rows[0][offset] is None:
        return None
    first = rows[0]
    items = tuple(BillItem(row[offset + 6], row[offset + 7]) for row in rows if row[offset + 6] is not None)
    return Bill(first[offset], first[offset + 1], first[offset + 2], first[offset + 3], first[offset + 4],
                first[offset + 5], items)


def linked_account(session: Session, line_user_id: str) -> LinkedAccount | None:
    """The account this LINE user is linked to (any status), in one query."""
    row = _LINKED_ACCOUNT.first(session, {"line_user_id": line_user_id})
    return LinkedAccount(*row) if row is not None else None


def linked_bill(session: Session, line_user_id: str, month: date) -> tuple[LinkedAccount | None, Bill | None]:
    """The LINE user's linked account (any status) and its statement for ``month`` (None
    before 2020-07), items in order, in one round trip."""
    month = month_start(month)
    if month < EARLIEST_MONTH:
        return linked_account(session, line_user_id), None
    rows = _LINKED_BILL.rows(session, {"line_user_id": line_user_id, "month": month})
    if not rows:
        return None, None
    return LinkedAccount(*rows[0][:3]), _bill(rows, 3)


def newest_bill(session: Session, customer_id: int) -> Bill | None:
    """The customer's newest statement from 2020-07 on, items in order."""
    return _bill(_NEWEST_BILL.rows(session, {"customer_id": customer_id}))


def recent_statements(session: Session, customer_id: int) -> list[Statement]:
    """The window: newest first, at most the 12 months up to the newest statement, none before 2020-07."""
    newest = newest_statement(session, customer_id)
    if newest is None:
        return []
    oldest = max(add_months(newest.billing_month, -(WINDOW_MONTHS - 1)), EARLIEST_MONTH)
    return list(session.scalars(
        select(Statement)
        .where(Statement.customer_id == customer_id, Statement.billing_month >= oldest,
               Statement.billing_month <= newest.billing_month)
        .order_by(Statement.billing_month.desc())))


def customer_statement(session: Session, customer_id: int, statement_id: int) -> Statement | None:
    """Statement ``statement_id`` if it belongs to this customer and is not before 2020-07; else None."""
    if not 0 < statement_id <= MAX_ID:
        return None
    statement = session.scalar(
        select(Statement).options(selectinload(Statement.items))
        .where(Statement.id == statement_id, Statement.customer_id == customer_id,
               Statement.billing_month >= EARLIEST_MONTH))
    return statement


def issue_bill_link(session: Session, account: _Owned, statement: _Owned, now: datetime) -> str:
    """A fresh bearer token opening ``statement`` for ``account`` for 15 minutes (only its hash is kept)."""
    if statement.customer_id != account.customer_id:
        raise ValueError("a bill link for another customer's statement")
    token, token_hash = new_token()
    now = tokyo(now)
    _INSERT_LINK.rows(session, {
        "token_hash": token_hash, "purpose": BILL_PURPOSE, "account_id": account.id, "statement_id": statement.id,
        "created_at": now, "expires_at": now + timedelta(seconds=BILL_LINK_SECONDS)})
    return token


def check_bill_link(session: Session, token: str, statement_id: int, now: datetime) -> LinkToken | None:
    """The live bill link for exactly this statement, its account still active and owning it; else None."""
    if not token or len(token) > 200:
        return None
    link = session.scalar(select(LinkToken).where(LinkToken.token_hash == hash_token(token),
                                                  LinkToken.purpose == BILL_PURPOSE))
    if link is None or link.statement_id != statement_id or link.used_at is not None or aware(link.expires_at) <= now:
        return None
    account = link.account
    if account.status != "active":
        return None
    if customer_statement(session, account.customer_id, statement_id) is None:
        return None
    return link
