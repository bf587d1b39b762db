"""Monthly bill notices in the database: who gets one, the delivery rows, their claims and outcomes.

A delivery row (``NoticeDelivery``) is written for every (account, month) before anything is
pushed; the unique constraint makes a second one impossible, so re-running a month sends only
what is not yet sent. Rows are handed to batch jobs by a *claim* (a random token) with a
*lease*: a job that dies mid-batch leaves rows that another job may take once the lease has
run out. The push's retry key is derived from the row, so a retried or re-claimed push is one
LINE already knows (409) rather than a second message.

Every function takes a session and never commits. Times are written as Tokyo time
(``storage.bills.tokyo``) so SQLite, which keeps wall time only, compares them correctly.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, and_, case, delete, exists, func, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage import retention
from storage.bills import aware, tokyo
from storage.models import Account, LineLink, NoticeDelivery, Statement, UtcDateTime

QUEUED, SENT, FAILED, SKIPPED = "queued", "sent", "failed", "skipped"
ANALYZE_AFTER_ROWS = 1000  # plan_month refreshes the table's statistics after writing this many rows
OPTED_OUT, BLOCKED, UNLINKED = "opted_out", "blocked", "unlinked"
_RETRY_KEY_NAMESPACE = uuid.UUID("0b9f6f0e-5d55-4a39-9a53-6b1e0c4e7a11")


def retry_key(account_id: int, billing_month: date) -> str:
    """The ``X-Line-Retry-Key`` of one account's notice for one month: the same on every attempt,
    whichever worker makes it, because it is derived from what identifies the row."""
    return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, f"bill-notice:{account_id}:{billing_month:%Y-%m}"))


# -- the customer's setting and the block flag ---------------------------------------------
def _link(session: Session, line_user_id: str) -> LineLink | None:
    return session.scalar(select(LineLink).where(LineLink.line_user_id == line_user_id))


def set_notices_enabled(session: Session, line_user_id: str, enabled: bool) -> LineLink | None:
    """Opt this LINE user out of (or back into) bill notices; None when not linked."""
    link = _link(session, line_user_id)
    if link is not None:
        link.notices_enabled = enabled
        session.flush()
    return link


def mark_blocked(session: Session, line_user_id: str, now: datetime) -> bool:
    """An unfollow: no notices until the customer follows again. False when not linked."""
    link = _link(session, line_user_id)
    if link is None:
        return False
    link.blocked_at = tokyo(now)
    session.flush()
    return True


def mark_unblocked(session: Session, line_user_id: str) -> bool:
    """A follow (or unblock): notices again, as the setting says. False when not linked."""
    link = _link(session, line_user_id)
    if link is None:
        return False
    link.blocked_at = None
    session.flush()
    return True


# -- who gets a notice -------------------------------------------------------------------
def _with_statement(month: date):
    """Active accounts linked to LINE that have a statement for ``month`` (a select to build on)."""
    return (select(Account.id.label("account_id"), LineLink.notices_enabled, LineLink.blocked_at)
            .join(LineLink, LineLink.account_id == Account.id)
            .join(Statement, and_(Statement.customer_id == Account.customer_id, Statement.billing_month == month))
            .where(Account.status == "active"))


def _eligible():
    return and_(LineLink.notices_enabled.is_(True), LineLink.blocked_at.is_(None))


@dataclass
class Overview:
    """What a month's run would do now, counted in the database (nothing loaded)."""

    to_send: int = 0
    already_sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count


def month_overview(session: Session, month: date) -> Overview:
    """Count the notices still to send, those sent, failed, and those that would be skipped and why."""
    overview = Overview()
    for status, count in session.execute(select(NoticeDelivery.status, func.count())
                                         .where(NoticeDelivery.billing_month == month,
                                                NoticeDelivery.status.in_((SENT, FAILED)))
                                         .group_by(NoticeDelivery.status)):
        if status == SENT:
            overview.already_sent = count
        else:
            overview.failed = count
    done = exists().where(NoticeDelivery.account_id == Account.id, NoticeDelivery.billing_month == month,
                          NoticeDelivery.status.in_((SENT, FAILED)))
    kind = case((LineLink.blocked_at.is_not(None), BLOCKED), (LineLink.notices_enabled.is_(False), OPTED_OUT),
                else_="send")
    query = (select(kind, func.count()).select_from(Account)
             .join(LineLink, LineLink.account_id == Account.id)
             .join(Statement, and_(Statement.customer_id == Account.customer_id, Statement.billing_month == month))
             .where(Account.status == "active", ~done).group_by(kind))
    for what, count in session.execute(query):
        if what == "send":
            overview.to_send = count
        else:
            overview.skipped[what] = count
    return overview


def plan_month(session: Session, month: date, now: datetime) -> None:
    """Write a delivery row for every linked account with a statement for ``month`` (queued, or
    skipped with its reason), and re-queue skipped rows whose customer may have notices again.
    One INSERT … SELECT: nothing is loaded into memory however many customers there are."""
    now = tokyo(now)
    status = case((_eligible(), QUEUED), else_=SKIPPED)
    reason = case((LineLink.blocked_at.is_not(None), BLOCKED), (LineLink.notices_enabled.is_(False), OPTED_OUT),
                  else_=None)
    rows = (select(Account.id, literal(month, Date), status, reason, literal(0, Integer), literal(now, UtcDateTime()))
            .join(LineLink, LineLink.account_id == Account.id)
            .join(Statement, and_(Statement.customer_id == Account.customer_id, Statement.billing_month == month))
            .where(Account.status == "active"))
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if on_postgresql else sqlite.insert
    written = session.execute(insert(NoticeDelivery).from_select(
        ["account_id", "billing_month", "status", "skip_reason", "attempts", "created_at"], rows)
        .on_conflict_do_nothing(index_elements=["account_id", "billing_month"])
        .execution_options(preserve_rowcount=True)).rowcount or 0
    if on_postgresql and written >= ANALYZE_AFTER_ROWS:
        # Fresh statistics for the rows just written, before the batches are claimed: without
        # them PostgreSQL took the month for a handful of rows, and each claim read all of it
        # (45 ms a batch at 100,000 rows instead of 5; autovacuum would analyze only later).
        session.execute(text("ANALYZE notice_deliveries"))
    eligible_again = _with_statement(month).where(_eligible()).with_only_columns(Account.id)
    session.execute(update(NoticeDelivery)
                    .where(NoticeDelivery.billing_month == month, NoticeDelivery.status == SKIPPED,
                           NoticeDelivery.account_id.in_(eligible_again))
                    .values(status=QUEUED, skip_reason=None)
                    .execution_options(synchronize_session=False))


# -- handing rows to batch jobs ------------------------------------------------------------
def _due_and_free(now: datetime):
    return and_(NoticeDelivery.status == QUEUED,
                or_(NoticeDelivery.next_attempt_at.is_(None), NoticeDelivery.next_attempt_at <= now),
                or_(NoticeDelivery.lease_until.is_(None), NoticeDelivery.lease_until <= now))


def _claimable(month: date, now: datetime):
    return and_(NoticeDelivery.billing_month == month, _due_and_free(now))


def claim_batch(session: Session, month: date, now: datetime, size: int, lease_seconds: float,
                after_id: int = 0) -> tuple[str, int, int]:
    """Claim up to ``size`` queued rows that are due and not leased, from id ``after_id`` on;
    returns the claim token, how many rows it holds (0: nothing to hand out) and the last id.
    Rows locked by another claimer are passed over. Two short statements (pick the ids along
    the primary key, then claim them), so each batch costs the same however many rows the month has.
    The claim checks its rows again by primary key only: with the month in it, PostgreSQL's plan
    for a month just written (no statistics yet) read every queued row of the month through the
    (month, status) index and sorted them, 45 ms a batch at 100,000 rows and worse as it went;
    a row's month never changes, so leaving it out changes nothing else."""
    now = tokyo(now)
    token = secrets.token_hex(16)
    ids = list(session.scalars(select(NoticeDelivery.id)
                               .where(_claimable(month, now), NoticeDelivery.id > after_id)
                               .order_by(NoticeDelivery.id).limit(size).with_for_update(skip_locked=True)))
    if not ids:
        return token, 0, after_id
    result = session.execute(update(NoticeDelivery)
                             .where(NoticeDelivery.id.in_(ids), _due_and_free(now))
                             .values(claim=token, lease_until=now + timedelta(seconds=lease_seconds))
                             .execution_options(synchronize_session=False))
    return token, result.rowcount or 0, ids[-1]


@dataclass(frozen=True)
class NoticeTarget:
    """One claimed row with what sending it needs (no names, no numbers)."""

    delivery_id: int
    account_id: int
    billing_month: date
    line_user_id: str | None
    notices_enabled: bool
    blocked: bool
    total: int | None
    due_date: date | None
    attempts: int
    first_attempt_at: datetime | None


def take_batch(session: Session, token: str, now: datetime, lease_seconds: float) -> list[NoticeTarget]:
    """The rows of claim ``token`` still queued, their lease renewed for this job; [] when another
    job has taken them over meanwhile (the lease ran out before this job started)."""
    now = tokyo(now)
    renew_lease(session, token, now, lease_seconds)
    query = (select(NoticeDelivery.id, NoticeDelivery.account_id, NoticeDelivery.billing_month, LineLink.line_user_id,
                    LineLink.notices_enabled, LineLink.blocked_at, Statement.total, Statement.due_date,
                    NoticeDelivery.attempts, NoticeDelivery.first_attempt_at)
             .join(Account, Account.id == NoticeDelivery.account_id)
             .outerjoin(LineLink, LineLink.account_id == Account.id)
             .outerjoin(Statement, and_(Statement.customer_id == Account.customer_id,
                                        Statement.billing_month == NoticeDelivery.billing_month))
             .where(NoticeDelivery.claim == token, NoticeDelivery.status == QUEUED)
             .order_by(NoticeDelivery.id))
    return [NoticeTarget(row.id, row.account_id, row.billing_month, row.line_user_id, bool(row.notices_enabled),
                         row.blocked_at is not None, row.total, row.due_date, row.attempts,
                         aware(row.first_attempt_at) if row.first_attempt_at else None)
            for row in session.execute(query)]


def renew_lease(session: Session, token: str, now: datetime, lease_seconds: float) -> int:
    """Extend the lease of claim ``token``'s rows still queued (a batch at work renews it, so a
    slow batch on a loaded machine keeps its rows); returns how many rows it holds."""
    return session.execute(update(NoticeDelivery)
                           .where(NoticeDelivery.claim == token, NoticeDelivery.status == QUEUED)
                           .values(lease_until=tokyo(now) + timedelta(seconds=lease_seconds))
                           .execution_options(synchronize_session=False)).rowcount


def _still_mine(delivery_id: int, token: str):
    return and_(NoticeDelivery.id == delivery_id, NoticeDelivery.claim == token, NoticeDelivery.status == QUEUED)


def record_sent(session: Session, delivery_ids: list[int], now: datetime, attempted: bool = True) -> None:
    """LINE accepted these pushes (or said 409: it had accepted them before). Final, whoever holds
    the claim; one statement for the lot."""
    if not delivery_ids:
        return
    now = tokyo(now)
    values = {"status": SENT, "sent_at": now, "claim": None, "lease_until": None, "next_attempt_at": None,
              "last_error": None}
    if attempted:
        values.update(attempts=NoticeDelivery.attempts + 1, last_attempt_at=now,
                      first_attempt_at=func.coalesce(NoticeDelivery.first_attempt_at, now))
    session.execute(update(NoticeDelivery).where(NoticeDelivery.id.in_(delivery_ids),
                                                 NoticeDelivery.status.in_((QUEUED, FAILED)))
                    .values(**values).execution_options(synchronize_session=False))


def record_retry(session: Session, delivery_id: int, token: str, now: datetime, retry_at: datetime,
                 error: str, attempted: bool) -> None:
    """The push failed in a way worth retrying (5xx, timeout, 429): queued again from ``retry_at``.
    ``attempted`` says LINE may have accepted it (5xx, timeout), which starts the 24-hour clock."""
    now = tokyo(now)
    values: dict = {"claim": None, "lease_until": None, "next_attempt_at": tokyo(retry_at), "last_error": error}
    if attempted:
        values.update(attempts=NoticeDelivery.attempts + 1, last_attempt_at=now,
                      first_attempt_at=func.coalesce(NoticeDelivery.first_attempt_at, now))
    session.execute(update(NoticeDelivery).where(_still_mine(delivery_id, token)).values(**values)
                    .execution_options(synchronize_session=False))


def record_failed(session: Session, delivery_id: int, token: str, now: datetime, error: str,
                  attempted: bool = True) -> None:
    """Given up on (a 4xx LINE refuses for good, or retries exhausted): kept for review, never resent."""
    now = tokyo(now)
    values: dict = {"status": FAILED, "claim": None, "lease_until": None, "next_attempt_at": None,
                    "last_error": error}
    if attempted:
        values.update(attempts=NoticeDelivery.attempts + 1, last_attempt_at=now,
                      first_attempt_at=func.coalesce(NoticeDelivery.first_attempt_at, now))
    session.execute(update(NoticeDelivery).where(_still_mine(delivery_id, token)).values(**values)
                    .execution_options(synchronize_session=False))


def record_skipped(session: Session, delivery_id: int, token: str, reason: str) -> None:
    """Not sent: the customer opted out, blocked the account, or is no longer linked (a later run
    re-queues the row if that changes)."""
    session.execute(update(NoticeDelivery).where(_still_mine(delivery_id, token))
                    .values(status=SKIPPED, skip_reason=reason, claim=None, lease_until=None)
                    .execution_options(synchronize_session=False))


def release(session: Session, delivery_id: int, token: str) -> None:
    """Hand a claimed row back untouched (the run was stopped before it was pushed)."""
    session.execute(update(NoticeDelivery).where(_still_mine(delivery_id, token))
                    .values(claim=None, lease_until=None).execution_options(synchronize_session=False))


def release_many(session: Session, delivery_ids: list[int], token: str) -> None:
    """Hand claimed rows back untouched, in one statement (a stopped run's rest of a batch)."""
    if not delivery_ids:
        return
    session.execute(update(NoticeDelivery)
                    .where(NoticeDelivery.id.in_(delivery_ids), NoticeDelivery.claim == token,
                           NoticeDelivery.status == QUEUED)
                    .values(claim=None, lease_until=None).execution_options(synchronize_session=False))


def expire_retries(session: Session, month: date, now: datetime, window_seconds: float) -> int:
    """Queued rows first tried longer ago than the retry key lives: LINE may have accepted one of
    those attempts and would no longer recognise the key, so a retry could double it. Marked
    failed (``retry_window_expired``) for review instead."""
    cutoff = tokyo(now) - timedelta(seconds=window_seconds)
    result = session.execute(update(NoticeDelivery)
                             .where(NoticeDelivery.billing_month == month, NoticeDelivery.status == QUEUED,
                                    NoticeDelivery.first_attempt_at.is_not(None),
                                    NoticeDelivery.first_attempt_at < cutoff)
                             .values(status=FAILED, last_error="retry_window_expired", claim=None, lease_until=None)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def requeue_failed(session: Session, month: date) -> int:
    """Queue the month's failed rows again (the operator's ``notify-bills --retry-failed``), their
    retry window starting afresh; how many. The retry key stays the row's, so a push LINE accepted
    less than a day ago is a 409 (counted sent), not a second message; an older one LINE no longer
    knows, and could arrive twice: which is why this is the operator's decision, never automatic."""
    result = session.execute(update(NoticeDelivery)
                             .where(NoticeDelivery.billing_month == month, NoticeDelivery.status == FAILED)
                             .values(status=QUEUED, first_attempt_at=None, next_attempt_at=None, claim=None,
                                     lease_until=None)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


@dataclass(frozen=True)
class Pending:
    """Queued rows of a month: how many, and when the next one can be handed out (None: now)."""

    queued: int
    next_due: datetime | None


def pending(session: Session, month: date, now: datetime) -> Pending:
    """How many rows are still queued and when the earliest becomes claimable."""
    now = tokyo(now)
    queued = session.scalar(select(func.count()).where(NoticeDelivery.billing_month == month,
                                                       NoticeDelivery.status == QUEUED)) or 0
    if not queued or session.scalar(select(exists().where(_claimable(month, now)))):
        return Pending(queued, None)
    next_at = func.coalesce(NoticeDelivery.next_attempt_at, NoticeDelivery.created_at)
    leased = func.coalesce(NoticeDelivery.lease_until, NoticeDelivery.created_at)
    due = case((next_at > leased, next_at), else_=leased)  # the later of the two, on any database
    earliest = session.scalar(select(func.min(due)).where(NoticeDelivery.billing_month == month,
                                                          NoticeDelivery.status == QUEUED))
    return Pending(queued, aware(earliest) if earliest else None)


def leased(session: Session, month: date, now: datetime) -> int:
    """Queued rows some batch holds right now (handed out, not yet done)."""
    now = tokyo(now)
    return session.scalar(select(func.count()).where(NoticeDelivery.billing_month == month,
                                                     NoticeDelivery.status == QUEUED,
                                                     NoticeDelivery.lease_until > now)) or 0


def outcome_counts(session: Session, month: date) -> dict[tuple[str, str | None], int]:
    """Rows of a month by (status, reason): the skip reason for skipped rows, the error class for
    failed and queued ones."""
    detail = case((NoticeDelivery.status == SKIPPED, NoticeDelivery.skip_reason),
                  (NoticeDelivery.status.in_((FAILED, QUEUED)), NoticeDelivery.last_error), else_=None)
    return {(status, reason): count for status, reason, count in session.execute(
        select(NoticeDelivery.status, detail, func.count()).where(NoticeDelivery.billing_month == month)
        .group_by(NoticeDelivery.status, detail))}


def has_deliveries(session: Session, month: date) -> bool:
    """Whether a run for ``month`` has ever been planned."""
    return bool(session.scalar(select(exists().where(NoticeDelivery.billing_month == month))))


def statements_settled(session: Session, month: date, now: datetime, quiet_seconds: float) -> bool:
    """``month``'s statements are imported: there are some, and none has changed for ``quiet_seconds``."""
    newest = session.scalar(select(func.max(Statement.imported_at)).where(Statement.billing_month == month))
    return newest is not None and aware(newest) <= tokyo(now) - timedelta(seconds=quiet_seconds)


@retention.rule("notice_deliveries", setting="RETENTION_NOTICE_DAYS", default_days=400,
                description="bill notice delivery rows for months older than the period")
def purge_deliveries(session: Session, now: datetime, keep: timedelta) -> int:
    """A month's delivery rows are what stops a re-run sending twice; after about a year and a
    month nobody re-runs that month, and the rows go."""
    cutoff = (now - keep).date().replace(day=1)
    return session.execute(delete(NoticeDelivery).where(NoticeDelivery.billing_month < cutoff)).rowcount
