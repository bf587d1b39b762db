"""What becomes of one claimed notice row, and writing those outcomes a batch at a time.

``before_push`` settles a row that is not to be pushed (skipped, or past the retry key's life);
``after_push`` turns what ``push`` made of LINE's answer into the row's outcome (sent, a retry
with its delay, failed, or released for a later run); ``write_outcomes`` records a handful of
them in one transaction (``storage.notices``). The batch job (``batch``) collects them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.line.notices.config import NoticeSettings, database
from handlers.line.notices.push import QUOTA, RATE_LIMITED, RETRY, SENT, STOP
from storage import notices as store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row, to be written with the others of its batch."""

    action: str  # sent | retry | failed | skipped | release
    delivery_id: int
    at: datetime
    error: str = ""
    retry_at: datetime | None = None
    attempted: bool = True


def before_push(target: store.NoticeTarget, config: NoticeSettings, now: datetime) -> Outcome | None:
    """A row that is not to be pushed (skipped, or past the retry key's life), or None."""
    reason = (store.UNLINKED if target.line_user_id is None else store.OPTED_OUT if not target.notices_enabled
              else store.BLOCKED if target.blocked else "no_statement" if target.total is None else None)
    if reason:
        return Outcome("skipped", target.delivery_id, now, reason)
    window = timedelta(seconds=config.retry_window_seconds)
    if target.first_attempt_at is not None and now - target.first_attempt_at >= window:
        return Outcome("failed", target.delivery_id, now, "retry_window_expired", attempted=False)
    return None


def after_push(target: store.NoticeTarget, config: NoticeSettings, outcome: str, error: str,
               now: datetime) -> Outcome:
    """The row's outcome from what LINE answered (a stop or slow-down is the batch's business)."""
    if outcome == SENT:
        return Outcome("sent", target.delivery_id, now)
    if outcome in (QUOTA, STOP):
        return Outcome("release", target.delivery_id, now)
    if outcome == RATE_LIMITED:
        return Outcome("retry", target.delivery_id, now, error, now + timedelta(seconds=1), attempted=False)
    if outcome == RETRY:
        window = timedelta(seconds=config.retry_window_seconds)
        attempt = target.attempts + 1
        first = target.first_attempt_at or now
        delay = config.retry_delays[attempt - 1] if attempt <= len(config.retry_delays) else None
        if delay is None or now + timedelta(seconds=delay) - first >= window:
            log.warning("bill notice given up after %d attempts (%s)", attempt, error)
            return Outcome("failed", target.delivery_id, now, error)
        return Outcome("retry", target.delivery_id, now, error, now + timedelta(seconds=delay))
    log.warning("bill notice refused by LINE (%s); marked failed", error)
    return Outcome("failed", target.delivery_id, now, error)


def write_outcomes(token: str, outcomes: list[Outcome]) -> None:
    """One transaction for a handful of outcomes (one statement for the sent ones). A crash before
    it commits loses nothing: those rows are handed out again and their retry keys make LINE
    answer 409 for the ones it already has."""
    if not outcomes:
        return
    with database().begin() as session:
        sent = [o.delivery_id for o in outcomes if o.action == "sent"]
        store.record_sent(session, sent, max(o.at for o in outcomes))
        released = [o.delivery_id for o in outcomes if o.action == "release"]
        store.release_many(session, released, token)
        for o in outcomes:
            if o.action == "retry":
                store.record_retry(session, o.delivery_id, token, o.at, o.retry_at or o.at, o.error, o.attempted)
            elif o.action == "failed":
                store.record_failed(session, o.delivery_id, token, o.at, o.error, o.attempted)
            elif o.action == "skipped":
                store.record_skipped(session, o.delivery_id, token, o.error)
