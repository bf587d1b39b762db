"""The event outbox (``EventOutcome``): written inside a turn's transaction, delivered after it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from storage import retention
from storage.models import EventOutcome
from storage.sql import Prepared

_INSERT = Prepared(insert(EventOutcome.__table__).values(
    event_id=bindparam("event_id"), payload=bindparam("payload"), created_at=bindparam("created_at")))


def add(db: Session, event_id: str, payload: str, now: datetime) -> None:
    """Record a turn's outcome; the unique event id makes a second turn for one event fail
    (a prepared insert, ``storage.sql``: the ORM's unit of work for one row cost more than the
    turn's queries)."""
    _INSERT.rows(db, {"event_id": event_id, "payload": payload, "created_at": now})


def get(db: Session, event_id: str) -> EventOutcome | None:
    return db.scalars(select(EventOutcome).where(EventOutcome.event_id == event_id)).first()


_table = EventOutcome.__table__
_DELIVERED = (update(_table).where(_table.c.event_id.in_(bindparam("ids", expanding=True)),
                                   _table.c.delivered_at.is_(None))
              .values(payload=None, delivered_at=bindparam("now")))


def delivered_many(db: Session, event_ids: list[str], now: datetime) -> None:
    """The answers went out (or were queued): erase what they said, keep the dedup records;
    one statement for many events (the event workers mark them in batches)."""
    db.connection().execute(_DELIVERED, {"ids": list(event_ids), "now": now})


@retention.rule("event_outcomes", setting="RETENTION_EVENT_OUTCOME_DAYS", default_days=7,
                description="LINE event outbox rows (dedup records) older than the period")
def purge_outcomes(session: Session, now: datetime, keep: timedelta) -> int:
    """Outbox rows past the period: as long as Redis remembers an event as done (a week),
    the database remembers it too; after that LINE no longer redelivers it."""
    # A payload the workers did not erase (one killed between its answer and the batch that
    # marks rows delivered) goes after a day; the event itself is long done by then.
    session.execute(update(EventOutcome).where(EventOutcome.created_at <= now - timedelta(days=1),
                                               EventOutcome.payload.is_not(None))
                    .values(payload=None))
    return session.execute(delete(EventOutcome).where(EventOutcome.created_at <= now - keep)).rowcount
