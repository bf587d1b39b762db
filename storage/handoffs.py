"""Handoffs to support staff, and their ordered outbox (what staff must be shown, oldest first).

Why an outbox in the database: what the customer sends while a person has the chat must
reach staff in the order it was sent, survive a Slack outage, and never be lost between
the turn's commit and the post. So a turn writes ``HandoffMessage`` rows in its own
transaction, and one job at a time per handoff (a Redis lock) sends the pending rows,
oldest first, each in its own short transaction (no transaction is held across a call
to Slack). A row that fails stops the drain: the job raises, RQ retries it, and nothing
after that row is sent before it, so order holds. Any number of drain jobs may be queued
for one handoff; whichever holds the lock sends everything pending, the others find
nothing left (idempotent). Delivery is at least once: a post that succeeded but whose
``sent_at`` could not be written is sent again on the retry.

Retention: a closed handoff keeps its timestamps for reporting; the customer's words in
``handoff_messages.payload`` are what ``delete_transcripts`` removes once the handoff has
been closed long enough (the purge command decides how long).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from storage import retention
from storage.errors import Unavailable
from storage.keys import handoff_drain_key
from storage.locks import drain_lock
from storage.models import Handoff, HandoffMessage
from storage.sql import Prepared

WAITING, WITH_STAFF, CLOSED = "waiting", "with_staff", "closed"
# Outbox row kinds (``HandoffMessage.kind``) that this module reads back.
OPENED, AFTER_HOURS = "opened", "after_hours"
DRAIN_LOCK_SECONDS = 120
DRAIN_WAIT_SECONDS = 10


class OutboxBusy(Unavailable):
    """Another job is draining this handoff's outbox and did not finish in time (retry later)."""


# -- handoffs ---------------------------------------------------------------------------------
_open_id = select(Handoff.__table__.c.id).where(Handoff.__table__.c.open_line_user_id == bindparam("u"))
_OPEN_ID, _OPEN_ID_LOCKED = Prepared(_open_id), Prepared(_open_id.with_for_update())


def find_open(session: Session, line_user_id: str, lock: bool = False) -> Handoff | None:
    """The LINE user's open handoff (waiting or with staff), if any (``lock``: row-locked, so a
    customer's message and a staff member's 対応完了 at the same moment are taken one after the other)."""
    # Almost every message comes with no handoff open: ask for the id alone first (a prepared
    # statement, no ORM loading: ``storage.sql``), and load the handoff only when there is one.
    if (_OPEN_ID_LOCKED if lock else _OPEN_ID).first(session, {"u": line_user_id}) is None:
        return None
    query = select(Handoff).where(Handoff.open_line_user_id == line_user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def find_by_thread(session: Session, thread_ts: str) -> Handoff | None:
    """The handoff whose escalation message has this Slack ``ts``."""
    return session.scalar(select(Handoff).where(Handoff.staff_thread_ts == thread_ts))


def get(session: Session, handoff_id: int, lock: bool = False) -> Handoff | None:
    """One handoff by id (``lock``: row-locked until the transaction ends)."""
    query = select(Handoff).where(Handoff.id == handoff_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def open_handoff(session: Session, line_user_id: str, reason: str, now: datetime) -> Handoff:
    """Open a handoff for this LINE user (the caller has checked none is open)."""
    handoff = Handoff(line_user_id=line_user_id, open_line_user_id=line_user_id, status=WAITING, reason=reason,
                      opened_at=now)
    session.add(handoff)
    session.flush()
    return handoff


def record_staff_reply(handoff: Handoff, now: datetime) -> None:
    """A person answered: the chat is with staff; the first answer's time is kept for reporting."""
    if handoff.first_staff_reply_at is None:
        handoff.first_staff_reply_at = now
    if handoff.status == WAITING:
        handoff.status = WITH_STAFF


def close(handoff: Handoff, closed_by: str, now: datetime) -> bool:
    """End the handoff (the bot answers again); False when it was already closed."""
    if handoff.status == CLOSED:
        return False
    handoff.status = CLOSED
    handoff.open_line_user_id = None
    handoff.closed_at = now
    handoff.closed_by = closed_by[:100]
    return True


def told_next_opening(session: Session, handoff_id: int, next_opening: str) -> bool:
    """Whether the customer was already told in this handoff that staff answer from ``next_opening``
    (an ISO time) on: by the opening reply after hours, or by an ``after_hours`` acknowledgement.

    The fact lives in the handoff's own rows (``opened`` and ``after_hours`` payloads carry
    ``next_opening``), in the same transaction and under the same row lock as the message that
    asked, so two messages at once cannot both be acknowledged; it needs no column of its own."""
    payloads = session.scalars(select(HandoffMessage.payload).where(
        HandoffMessage.handoff_id == handoff_id, HandoffMessage.kind.in_((OPENED, AFTER_HOURS))))
    return any(json.loads(payload).get("next_opening") == next_opening for payload in payloads)


def add_message(session: Session, handoff: Handoff, kind: str, payload: dict[str, Any],
                now: datetime) -> HandoffMessage:
    """Queue one thing to show staff, after everything queued before it."""
    message = HandoffMessage(handoff_id=handoff.id, kind=kind, payload=json.dumps(payload, ensure_ascii=False),
                             created_at=now, attempts=0)
    session.add(message)
    session.flush()
    return message


def delete_transcripts(session: Session, closed_before: datetime) -> int:
    """Remove what customers wrote in handoffs closed before ``closed_before``; the count removed."""
    old = select(Handoff.id).where(Handoff.closed_at.is_not(None), Handoff.closed_at < closed_before)
    result = session.execute(delete(HandoffMessage).where(HandoffMessage.handoff_id.in_(old)))
    return int(result.rowcount or 0)


@retention.rule("handoff_transcripts", setting="RETENTION_TRANSCRIPT_DAYS", default_days=90,
                description="what customers wrote in handoffs closed longer ago than the period")
def purge_transcripts(session: Session, now: datetime, keep: timedelta) -> int:
    """Transcripts are kept for escalations only, and only this long after the handoff closed;
    the handoff rows themselves (times, reason, who closed) stay for reporting."""
    return delete_transcripts(session, now - keep)


@retention.on_withdraw
def erase_on_withdraw(session: Session, account_id: int, line_user_id: str | None) -> None:
    """退会: what this LINE user wrote to staff goes with the account."""
    if line_user_id:
        mine = select(Handoff.id).where(Handoff.line_user_id == line_user_id)
        session.execute(delete(HandoffMessage).where(HandoffMessage.handoff_id.in_(mine)))


# -- the drain --------------------------------------------------------------------------------
Sender = Callable[[Handoff, HandoffMessage, dict], "dict[str, Any] | None"]


def drain(sessions: sessionmaker[Session], client: redis.Redis, handoff_id: int, send: Sender,
          now: Callable[[], datetime], wait: float = DRAIN_WAIT_SECONDS) -> int:
    """Send this handoff's pending messages in order with ``send(handoff, message, payload)``.

    ``send`` may return changes to store on the handoff (``staff_thread_ts``, ``staff_channel``).
    Raises what ``send`` raised (the job is retried) or ``OutboxBusy``. Returns how many were sent.
    """
    sent = 0
    with drain_lock(client, handoff_drain_key(handoff_id), DRAIN_LOCK_SECONDS, wait, OutboxBusy):
        while True:
            with sessions.begin() as session:
                handoff = session.get(Handoff, handoff_id)
                message = session.scalar(
                    select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id,
                                                 HandoffMessage.sent_at.is_(None))
                    .order_by(HandoffMessage.id).limit(1))
                if handoff is None or message is None:
                    return sent
                message.attempts += 1
            changes = send(handoff, message, json.loads(message.payload)) or {}
            with sessions.begin() as session:
                row = session.get(HandoffMessage, message.id)
                if row is not None:
                    row.sent_at = now()
                target = session.get(Handoff, handoff_id)
                if target is not None:
                    for name, value in changes.items():
                        setattr(target, name, value)
            sent += 1
