"""The event outbox (``EventOutcome``): written inside a turn's transaction, delivered after it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage import retention
from storage.models import EventOutcome


def add(db: Session, event_id: str, payload: str, now: datetime) -> None:
    """Record a turn's outcome; the unique event id makes a second turn for one event fail."""
    db.add(EventOutcome(event_id=event_id, payload=payload, created_at=now))
    db.flush()


def get(db: Session, event_id: str) -> EventOutcome | None:
    return db.scalars(select(EventOutcome).where(EventOutcome.event_id == event_id)).first()


def delivered(db: Session, event_id: str, now: datetime) -> None:
    """The answer went out (or was queued): erase what it said, keep the dedup record."""
    db.execute(update(EventOutcome).where(EventOutcome.event_id == event_id)
               .values(payload=None, delivered_at=now))


@retention.rule("event_outcomes", setting="RETENTION_EVENT_OUTCOME_DAYS", default_days=7,
                description="LINE event outbox rows (dedup records) older than the period")
def purge_outcomes(session: Session, now: datetime, keep: timedelta) -> int:
    """Outbox rows past the period: as long as Redis remembers an event as done (a week),
    the database remembers it too; after that LINE no longer redelivers it."""
    return session.execute(delete(EventOutcome).where(EventOutcome.created_at <= now - keep)).rowcount
