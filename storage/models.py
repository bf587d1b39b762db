"""Typed SQLAlchemy 2.x models: customers and their bills, My Page accounts, LINE links, tokens.

Uniqueness that matters (customer number, one statement per customer and month,
account IDs ignoring case, one LINE user per account, token hashes) is enforced by the
database, not only by code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, always timezone-aware in Python, on every database.

    PostgreSQL keeps ``timestamptz``; SQLite (``make run``'s embedded database) keeps text and
    hands back naive values, which then cannot be compared with ``now`` (the password
    reset crashed). Values are stored as UTC and come back as aware UTC datetimes on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    """A contract holder as the billing system knows them."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Digits, leading zeros dropped: the customer may type either form.
    customer_number: Mapped[str] = mapped_column(String(20), unique=True)
    phone: Mapped[str] = mapped_column(String(20))  # digits only
    name_kana: Mapped[str] = mapped_column(String(100))  # full-width katakana, full-width space
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    statements: Mapped[list[Statement]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Statement.billing_month"
    )
    account: Mapped[Account | None] = relationship(back_populates="customer")


class Statement(Base):
    """One month's bill for one customer (a re-import replaces it whole)."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("customer_id", "billing_month", name="uq_statements_customer_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    billing_month: Mapped[date] = mapped_column(Date)  # always the 1st of the month
    due_date: Mapped[date | None] = mapped_column(Date)
    payment_method: Mapped[str | None] = mapped_column(String(50))
    total: Mapped[int] = mapped_column(BigInteger)  # whole yen, tax included
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())

    customer: Mapped[Customer] = relationship(back_populates="statements")
    items: Mapped[list[StatementItem]] = relationship(
        back_populates="statement", cascade="all, delete-orphan", order_by="StatementItem.position"
    )


class StatementItem(Base):
    """One line of a statement: a service, a fee, or a discount (negative)."""

    __tablename__ = "statement_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)

    statement: Mapped[Statement] = relationship(back_populates="items")


class Account(Base):
    """A My Page account: provisional (仮登録, waiting for 本登録) or active.

    The provisional row holds the account ID for its lifetime; the unique index on
    ``login_id_key`` makes the database refuse a second holder of the same ID in any
    letter case. An expired provisional row is deleted before its ID is given again.
    """

    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_email", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    login_id: Mapped[str] = mapped_column(String(30))  # the アカウントID as the customer typed it
    login_id_key: Mapped[str] = mapped_column(String(30), unique=True)  # lower case, for lookups
    email: Mapped[str] = mapped_column(String(254))
    nickname: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; None until 本登録
    status: Mapped[str] = mapped_column(String(20))  # "provisional" | "active"
    # The LINE user who started the registration in the chat, linked at 本登録.
    pending_line_user_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # provisional only
    # Bumped on password reset and logout-everywhere: older sessions and links stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    customer: Mapped[Customer] = relationship(back_populates="account")
    line_link: Mapped[LineLink | None] = relationship(back_populates="account", cascade="all, delete-orphan")


class LineLink(Base):
    """A LINE user linked to one My Page account (one to one)."""

    __tablename__ = "line_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    notices_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by an unfollow (the customer blocked the account), cleared by a follow: no notices meanwhile.
    blocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())

    account: Mapped[Account] = relationship(back_populates="line_link")


class LinkToken(Base):
    """A single-use bearer link (本登録, bill detail, password reset), stored as a SHA-256 hash.

    ``purpose`` says what it opens; ``statement_id`` is set for bill links only.
    """

    __tablename__ = "link_tokens"
    __table_args__ = (Index("ix_link_tokens_account_purpose", "account_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "register" | "bill" | "reset"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    account: Mapped[Account] = relationship()


class EmailChange(Base):
    """A change of an account's mail address, waiting for the link mailed to the new address.

    The change takes effect only when that link's form is posted, once, before ``expires_at``
    (``storage.accounts.confirm_email_change``); only the token's SHA-256 is kept. A newer
    request, a password change or the change itself spends the account's other requests.
    """

    __tablename__ = "email_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    account: Mapped[Account] = relationship()


class EventOutcome(Base):
    """What one LINE event's turn must say and do, written in the turn's own transaction.

    The outbox that makes a turn exactly-once: a worker that dies after the commit leaves
    this row, and the worker that takes over delivers it instead of running the turn again.
    ``payload`` (replies and effects as JSON; it may hold a bill link or a mail) is erased
    once delivered; the row itself stays as the event's dedup record until ``purge``.
    """

    __tablename__ = "event_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # LINE's webhookEventId
    payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RichMenu(Base):
    """The rich menu now in use on LINE for one kind (``newcomer`` / ``linked``), written by
    ``flask richmenu sync``; ``content_hash`` covers the menu object and its image."""

    __tablename__ = "rich_menus"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    rich_menu_id: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Handoff(Base):
    """A chat handed to support staff: waiting for staff, with staff, or closed (for reporting too).

    ``open_line_user_id`` is the LINE user while the handoff is open and NULL once closed: its
    unique index lets each LINE user have at most one open handoff, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_line_user_id", "line_user_id"),
                      Index("ix_handoffs_closed_at", "closed_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64))
    open_line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # "waiting" | "with_staff" | "closed"
    reason: Mapped[str] = mapped_column(String(40))  # "asked" | "verification_limit" | ...
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_staff_reply_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    no_reply_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(100))  # a staff member's name, or "customer"
    # Where staff see it: the Slack channel and the escalation message's ts (the thread).
    staff_channel: Mapped[str | None] = mapped_column(String(40))
    staff_thread_ts: Mapped[str | None] = mapped_column(String(40), unique=True)

    messages: Mapped[list[HandoffMessage]] = relationship(
        back_populates="handoff", cascade="all, delete-orphan", order_by="HandoffMessage.id")


class HandoffMessage(Base):
    """One thing to show staff, in order: the escalation, a customer's message, the close.

    The per-handoff outbox: rows are written in the turn's transaction and sent to Slack (or
    the emulator's staff pane) by one job at a time, oldest first. Customer text in ``payload``
    is the transcript the retention rule (``purge``) removes some time after ``closed_at``.
    """

    __tablename__ = "handoff_messages"
    __table_args__ = (Index("ix_handoff_messages_handoff_id_sent_at", "handoff_id", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    # "opened" | "customer" | "staff" | "closed" | "notice" | "after_hours"
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    handoff: Mapped[Handoff] = relationship(back_populates="messages")


class NoticeDelivery(Base):
    """One monthly bill notice to one account: written before the push, so a crash loses nothing
    and doubles nothing (the unique constraint makes a second row for the same month impossible).

    ``status``: ``queued`` (to send, maybe after ``next_attempt_at``), ``sent`` (LINE accepted it,
    or answered 409 for its retry key), ``failed`` (for review; ``last_error`` names the class of
    failure, never a text), ``skipped`` (``skip_reason``: opted out, blocked, unlinked). ``claim``
    and ``lease_until`` say which batch job is working on the row and until when. The retry key is
    derived from the row (``storage.notices.retry_key``), so every attempt reuses it.
    """

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        UniqueConstraint("account_id", "billing_month", name="uq_notice_deliveries_account_month"),
        Index("ix_notice_deliveries_month_status", "billing_month", "status"),
        Index("ix_notice_deliveries_claim", "claim"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    billing_month: Mapped[date] = mapped_column(Date)  # the 1st of the month
    status: Mapped[str] = mapped_column(String(10))  # queued | sent | failed | skipped
    skip_reason: Mapped[str | None] = mapped_column(String(20))  # opted_out | blocked | unlinked
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # pushes that LINE may have accepted
    first_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(60))  # e.g. "http_500", "ReadTimeoutError"
    claim: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FaqEntry(Base):
    """One question and its answer from the operators' FAQ file (``flask import-faq``).

    The whole set is replaced by each import (``storage.faq.replace_all``); ``position`` keeps
    the file's order, ``entry_id`` is the file's ``id``.
    """

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(64), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(String(200))  # the import allows 40 characters
    answer: Mapped[str] = mapped_column(Text)  # line breaks kept
    examples: Mapped[str] = mapped_column(Text)  # JSON list of strings: other ways customers ask
    link: Mapped[str | None] = mapped_column(String(500))  # http(s) URL, or a path under PUBLIC_BASE_URL


class FaqSet(Base):
    """The FAQ set in use: a single row (``id`` 1) whose ``version`` each import bumps.

    No row (or version 0) means no FAQ was ever imported. Readers that cache the entries
    compare ``version`` to know when to load them again.
    """

    __tablename__ = "faq_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    version: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    entry_count: Mapped[int] = mapped_column(Integer)
    # Which shipped customer phrasings each entry borrows (JSON, worked out once by the import so that
    # no process does it again); None for a set imported before it existed: each process works it out.
    lending: Mapped[str | None] = mapped_column(Text, nullable=True)


class FaqMiss(Base):
    """Something a customer wrote that nothing answered, or answered with low confidence.

    ``text`` is masked by the caller before it is stored (no customer number, phone or
    address); the rows are kept for ``faq misses`` only as long as the ``faq_misses``
    retention rule says.
    """

    __tablename__ = "faq_misses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))  # "not_understood" | "low_confidence"
    best_entry: Mapped[str | None] = mapped_column(String(64))  # the nearest entry's id, if any
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
