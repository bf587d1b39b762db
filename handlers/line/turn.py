"""One queued event's turn, exactly once: recover → run → deliver.

1. **Recover** (an entry read again after a crash or a retry; a fresh one cannot have been
   handled, since the webhook queues an event id once): an event already ``done`` in Redis is
   left alone; an outbox row (``storage.outbox``) means the turn committed, so its answer is
   delivered instead of running the turn again.
2. **Run** the engine's turn under the user's lock (``bot.engine``). Inside the turn's own
   database transaction its outcome (replies and effects, as JSON) is written to the outbox:
   the turn and what it must say commit together or not at all. The loading animation shows
   if the turn takes noticeable time (``loading``).
3. **Deliver**: a reply while the reply token is fresh (``REPLY_TOKEN_MAX_AGE_SECONDS`` after
   the event), otherwise pushes whose ``X-Line-Retry-Key`` derives from the event id (a reply
   token LINE refuses as used means the first answer went out). Effects (mail, …) are queued
   as jobs keyed by the event id, so each runs once.

``process`` returns the event id to remember as done (the worker acknowledges it and marks the
outbox row delivered), or None. Redis or the database down: ``Transient``, and the worker tries
the event again later, in order. A fault in a step (a bug) saved nothing: the customer is asked
to send again.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import orjson
from flask import Flask
from sqlalchemy.exc import IntegrityError

from bot import messages
from bot.types import AccountLinkPrompt, Outcome, TextReply, from_json, to_json
from handlers import clock, jobs, logs, metrics
from handlers.line.delivery import deliver, link_url, mask_user
from handlers.line.loading import loading_while
from handlers.line.queued import QueuedEvent
from handlers.line.render import render
from storage import outbox
from storage.errors import Unavailable
from storage.events import Entry

log = logging.getLogger(__name__)

REPLY_TOKEN_MAX_AGE_SECONDS = 50  # LINE promises a reply token for about a minute, no more


class Transient(Unavailable):
    """Redis or the database did not answer: try the same event again later."""


def is_transient(exc: BaseException) -> bool:
    """Redis or the database did not answer (storage says so in its own name: ``Unavailable``)."""
    return isinstance(exc, Unavailable)


def fault(exc: BaseException | None) -> str:
    """Where a fault happened: its class and the innermost frame, never its text (which may
    quote what the customer typed, e.g. ``invalid literal for int(): '0748...'``)."""
    if exc is None:
        return "unknown"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return exc.__class__.__name__ + where


def reply_token(app: Flask, event: QueuedEvent) -> str | None:
    """The reply token while it is fresh enough to use, else None (the answer is pushed)."""
    if not event.reply:
        return None
    max_age = app.config.get("REPLY_TOKEN_MAX_AGE_SECONDS", REPLY_TOKEN_MAX_AGE_SECONDS)
    if time.time() - event.ts / 1000 > max_age:
        return None
    return event.reply


@dataclass
class Committed:
    """A turn's answer, committed with it: what to say and what to do."""

    replies: list = field(default_factory=list)
    effects: list = field(default_factory=list)
    recovered: bool = False  # read back from the outbox after a crash, not from the turn just run

    @classmethod
    def of(cls, payload: str, recovered: bool = False) -> Committed:
        data = orjson.loads(payload)
        return cls(from_json(data.get("replies", [])), from_json(data.get("effects", [])), recovered)


class Found(NamedTuple):
    """What a step found: the id to remember as done (or None), and an answer still to deliver."""

    done_id: str | None
    committed: Committed | None = None


def process(app: Flask, entry: Entry, event: QueuedEvent | None = None) -> str | None:
    """Handle one queued event exactly once; raise ``Transient`` to have it tried again later.
    Returns the event's id when it is to be remembered as done (with the entry's
    acknowledgement, in one round trip), None when not (a fault asked for a redelivery).
    ``event``: the entry's payload, already read (``Backlog``)."""
    if event is None:
        event = QueuedEvent.from_json(entry.payload)
    with logs.request_context(event.request_id):  # the webhook request's id, in this worker's logs
        try:
            found = (_recover(app, event) if entry.deliveries > 1 else None) or _run(app, event)
            if found.committed is not None:
                _deliver(app, event, found.committed)
            return found.done_id  # its outbox row is marked delivered in the next batch (``DeliveredMarks``)
        except Exception as exc:
            if is_transient(exc):
                raise Transient(exc.__class__.__name__) from exc
            _ask_to_send_again(app, event)
            return None


def _stored(app: Flask, event_id: str) -> tuple[str | None, bool] | None:
    """The outbox row of this event: (its payload, delivered?), or None when there is none."""
    with app.extensions["db"].begin() as session:
        row = outbox.get(session, event_id)
        return None if row is None else (row.payload, row.delivered_at is not None)


def _recover(app: Flask, event: QueuedEvent) -> Found | None:
    """An entry read again: what was already done with it (None: nothing, run the turn)."""
    if app.extensions["event_queue"].is_done(event.id):
        return Found(None)
    stored = _stored(app, event.id)
    if stored is None or (stored[0] is None and not stored[1]):
        return None
    payload, delivered = stored
    return Found(event.id) if delivered else Found(event.id, Committed.of(payload, recovered=True))


def _run(app: Flask, event: QueuedEvent) -> Found:
    """Run the turn; its answer (or what another worker that ran it meanwhile left)."""
    try:
        outcome, payload = run_turn(app, event)
    except IntegrityError:
        if _stored(app, event.id) is None:
            raise
        log.info("event %s was handled by another worker", event.id)  # it ran this very event meanwhile
        return Found(None)
    metrics.count_signals(outcome.signals)
    if payload is not None:
        return Found(event.id, Committed(outcome.replies, outcome.effects))
    stored = _stored(app, event.id)  # the engine wrote no outbox row: read what is there
    if stored is None or stored[0] is None:  # delivered by another worker already
        return Found(event.id)
    return Found(event.id, Committed.of(stored[0]))


def run_turn(app: Flask, event: QueuedEvent) -> tuple[Outcome, str | None]:
    """Run the engine, writing the outbox row in the turn's transaction. Returns the outcome and
    the outbox payload the turn committed (None if the engine wrote none)."""
    written: list[str] = []

    def record(db, outcome: Outcome) -> None:
        payload = orjson.dumps({"replies": to_json(outcome.replies), "effects": to_json(outcome.effects)}).decode()
        outbox.add(db, event.id, payload, clock.now(app))
        written.append(payload)

    incoming = event.incoming()
    with loading_while(app, incoming):
        outcome = app.extensions["engine"].handle(incoming, on_commit=record)
    return outcome, (written[-1] if written else None)


def _deliver(app: Flask, event: QueuedEvent, committed: Committed) -> None:
    """Send a committed turn's answer and queue its effects (each at most once)."""
    login_url = None
    if any(isinstance(r, AccountLinkPrompt) for r in committed.replies):
        try:
            login_url = link_url(event.user)
        except Exception:  # noqa: BLE001
            log.warning("could not issue a link token for %s", mask_user(event.user))
            login_url = f"{app.config['PUBLIC_BASE_URL']}/login"
    for i, effect in enumerate(committed.effects):
        jobs.perform(effect, once=f"{event.id}:{i}")
    deliver(event.user, reply_token(app, event), render(committed.replies, login_url), key_base=event.id,
            recovered=committed.recovered)
    metrics.observe_turn(str(event.kind), event.ts or None)


def _ask_to_send_again(app: Flask, event: QueuedEvent) -> None:
    """A fault in a step (a bug, not an outage): nothing was saved, so the customer can simply
    send again. Say so instead of staying silent."""
    log.error("event from %s failed in the conversation (%s); asked the customer to send again",
              mask_user(event.user), fault(sys.exc_info()[1]))
    try:
        app.extensions["event_queue"].release_claim(event.id)
    except Unavailable:
        log.warning("could not release the claim of a failed event")
    deliver(event.user, reply_token(app, event), render([TextReply(messages.BUSY_RETRY)]),
            key_base=event.id + ":fault")


class DeliveredMarks:
    """Outbox rows to mark delivered, written in batches: one UPDATE for every event finished
    in the last half second, not a transaction per event (it was a fifth of a turn's CPU).

    Safe to lose: the event is already ``done`` in Redis (acknowledged first), so a row left
    unmarked by a killed worker is never delivered again; only its payload stays until
    ``purge`` erases it (``storage.outbox``). Marks that meet a database outage are kept (up
    to ``MAX_KEPT``) and written with the next batch."""

    MAX_KEPT = 50_000

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._ids: list[str] = []
        self._lock = threading.Lock()

    def add(self, event_id: str) -> None:
        with self._lock:
            self._ids.append(event_id)

    def flush(self) -> int:
        """Mark everything collected so far; returns how many (0 when the database is down)."""
        with self._lock:
            ids, self._ids = self._ids, []
        if not ids:
            return 0
        marked = 0
        try:
            while marked < len(ids):
                batch = ids[marked:marked + 1000]
                with self.app.extensions["db"].begin() as session:
                    outbox.delivered_many(session, batch, clock.now(self.app))
                marked += len(batch)
        except Exception as exc:  # noqa: BLE001 - kept for the next batch
            log.warning("outbox rows not marked delivered yet (%s); trying again shortly", exc.__class__.__name__)
            with self._lock:
                self._ids = (ids[marked:] + self._ids)[-self.MAX_KEPT:]
        return marked
