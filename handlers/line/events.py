"""The event workers: take LINE events off the queue, run each turn exactly once, answer.

Each consumer thread holds the leases of some partitions of the queue (``storage.events``)
and handles their events one at a time: each person's in the order LINE sent them, on any
number of threads, processes and hosts, and the persons it has in hand taking turns
(``Backlog``), so one person's flood does not hold back the others of the partition. A
flood whose messages waited past the reply token's life is answered once, not by a push
each (``FLOOD_WAITING``).

One event, step by step:

1. An entry read again (a crash, a retry) that is already ``done`` in Redis: acknowledged. A
   fresh entry needs no such check: the webhook queues an event id once.
2. The turn runs under the user's lock (``bot.engine``). Inside the turn's own database
   transaction its outcome (replies and effects, as JSON) is written to the outbox
   (``storage.outbox``): the turn and what it must say commit together or not at all.
3. The answer goes out: a reply while the reply token is fresh (``REPLY_TOKEN_MAX_AGE_SECONDS``
   after the event), otherwise pushes whose ``X-Line-Retry-Key`` derives from the event id.
   Effects (mail, …) are queued as jobs keyed by the event id, so each runs once.
4. The event is remembered as ``done`` and its entry acknowledged (one round trip to Redis);
   its outbox row is marked delivered (the payload erased) with others, in a batch, within
   half a second (``DeliveredMarks``).

A worker killed anywhere in between leaves the entry pending; the consumer that takes the
partition over finds the outbox row and delivers it (a reply token LINE refuses as used
means the first answer went out) instead of running the turn again. Redis or the
database down: the entry stays where it is and is tried again with backoff, the
partition's later events waiting behind it, in order.
"""

from __future__ import annotations

import heapq
import logging
import random
import sys
import threading
import time
import traceback
from collections import deque
from datetime import datetime
from pathlib import Path

import orjson
import redis
from flask import Flask, current_app
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import messages
from bot.types import AccountLinkPrompt, EventKind, Incoming, Outcome, TextReply, from_json, to_json
from handlers import jobs, logs, metrics
from handlers.line.delivery import deliver, link_url, mask_user, start_loading
from handlers.line.render import render
from storage import outbox
from storage.events import Entry, EventQueue, Leases
from storage.state import StateUnavailable
from storage.timezone import TOKYO

log = logging.getLogger(__name__)
# Consumers pick free partitions in an order of their own, from a generator of their own: drawing from
# the global one would change the state that other code (and test frameworks) rely on.
_LEASE_ORDER = random.Random()

REPLY_TOKEN_MAX_AGE_SECONDS = 50  # LINE promises a reply token for about a minute, no more
LOADING_AFTER_SECONDS = 0.5  # show the loading animation only when a turn takes noticeable time
LOADING_SETTLE_SECONDS = 1.0  # how long a reply waits for an animation request already under way
BACKOFF_SECONDS = (0.5, 1, 2, 5, 10, 30)
HEARTBEAT_SECONDS = 1.0  # a consumer's own heartbeat, at most this often (not once per read)
# A consumer reads up to READ_COUNT entries a partition at a time, and holds up to BACKLOG_MAX
# read and not yet handled (``Backlog``; pending in Redis, so a dead consumer's are taken over):
# deep enough to see past one person's flood to the next person. While busy it reads again (and
# acknowledges what it handled) every SERVE_SLICE_SECONDS, so a newcomer joins the round at once.
READ_COUNT = 200
BACKLOG_MAX = 5_000
SERVE_SLICE_SECONDS = 0.1
# A flood: a person's message whose reply token went stale while at least FLOOD_WAITING more of
# theirs wait behind it. Its answer, and those of the stale ones right behind it, would each be a
# push (the monthly quota, and three to five times a reply's CPU); they are answered once instead,
# with ``messages.MANY_MESSAGES`` (at most once in FLOOD_TELL_SECONDS per person). Below the
# threshold (fifty messages at once from one person are still answered one by one) and while
# the tokens are fresh, nothing changes. Messages only: follows, unfollows and account links
# always run, and an entry read again after a crash (its turn may have committed) too.
FLOOD_WAITING = 10
FLOOD_TELL_SECONDS = 60.0
_FLOOD_KINDS = frozenset({EventKind.TEXT, EventKind.POSTBACK, EventKind.STICKER, EventKind.MEDIA})


class Transient(Exception):
    """Redis or the database did not answer: try the same event again later."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, StateUnavailable | redis.RedisError | OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _fault(exc: BaseException | None) -> str:
    """Where a fault happened: its class and the innermost frame, never its text (which may
    quote what the customer typed, e.g. ``invalid literal for int(): '0748...'``)."""
    if exc is None:
        return "unknown"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return exc.__class__.__name__ + where


def incoming_of(event: dict) -> Incoming:
    """The platform-neutral event from its queued form (``webhook.translate``)."""
    return Incoming(event["user"], EventKind(event["kind"]), text=event.get("text", ""),
                    postback_data=event.get("postback", ""), link_nonce=event.get("nonce", ""),
                    link_ok=bool(event.get("ok")))


class _Pending:
    """One scheduled loading animation: ``cancel`` before it fires, or wait for it to land."""

    __slots__ = ("action", "state", "landed")

    def __init__(self, action) -> None:
        self.action = action
        self.state = "waiting"  # -> "cancelled" | "running"
        self.landed = threading.Event()


class LoadingTimers:
    """The loading animations of every turn in this process: one timer thread and a heap of
    due times (not a ``threading.Timer`` thread started per event); an animation that falls
    due is sent by a small pool of threads, so a slow LINE never delays the others."""

    COALESCE_SECONDS = 0.05  # an animation may start this much later than asked

    def __init__(self, senders: int = 2) -> None:
        self._heap: list[tuple[float, int, _Pending]] = []
        self._cond = threading.Condition()
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._ready: list[_Pending] = []
        self._senders = senders
        self._work = threading.Condition()

    def schedule(self, delay: float, action) -> _Pending:
        pending = _Pending(action)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._tick, daemon=True, name="loading-timer")
                self._thread.start()
                for n in range(self._senders):
                    threading.Thread(target=self._send, daemon=True, name=f"loading-{n}").start()
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, pending))
            if self._heap[0][2] is pending:
                self._cond.notify()
        return pending

    def cancel(self, pending: _Pending, settle: float) -> None:
        """Cancel; if the animation request is already under way, let it land first (up to
        ``settle`` seconds): one that lands after the reply spins under the answer for 5 s."""
        with self._cond:
            if pending.state == "waiting":
                pending.state = "cancelled"
                return
        pending.landed.wait(settle)

    def _tick(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    # Wake a little after the first due time, so one wake-up takes every timer
                    # due by then (most were cancelled by a quick answer): not one per event.
                    self._cond.wait(self._heap[0][0] - time.monotonic() + self.COALESCE_SECONDS
                                    if self._heap else None)
                now = time.monotonic()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    _due, _seq, pending = heapq.heappop(self._heap)
                    if pending.state == "waiting":
                        pending.state = "running"
                        due.append(pending)
            if due:
                with self._work:
                    self._ready.extend(due)
                    self._work.notify(len(due))

    def _send(self) -> None:
        while True:
            with self._work:
                while not self._ready:
                    self._work.wait()
                pending = self._ready.pop(0)
            try:
                pending.action()
            except Exception:  # noqa: BLE001 - cosmetic
                log.info("loading animation not shown")
            finally:
                pending.landed.set()


_loading = LoadingTimers()


def _run_turn(app: Flask, incoming: Incoming, event_id: str) -> tuple[Outcome, str | None]:
    """Run the engine, writing the outbox row in the turn's transaction; show the loading
    animation if the turn takes noticeable time. Returns the outcome and the outbox payload
    the turn committed (None if the engine wrote none)."""
    written: list[str] = []

    def record(db, outcome: Outcome) -> None:
        payload = orjson.dumps({"replies": to_json(outcome.replies), "effects": to_json(outcome.effects)}).decode()
        outbox.add(db, event_id, payload, datetime.now(TOKYO))
        written.append(payload)

    def show() -> None:
        with app.app_context():
            start_loading(incoming.user_id)

    pending = None
    if incoming.kind in (EventKind.TEXT, EventKind.POSTBACK):
        pending = _loading.schedule(app.config.get("LOADING_AFTER_SECONDS", LOADING_AFTER_SECONDS), show)
    try:
        outcome = app.extensions["engine"].handle(incoming, on_commit=record)
        return outcome, (written[-1] if written else None)
    finally:
        if pending is not None:
            _loading.cancel(pending, LOADING_SETTLE_SECONDS)


def _reply_token(app: Flask, event: dict) -> str | None:
    """The reply token while it is fresh enough to use, else None (the answer is pushed)."""
    token = event.get("reply") or None
    if token is None:
        return None
    max_age = app.config.get("REPLY_TOKEN_MAX_AGE_SECONDS", REPLY_TOKEN_MAX_AGE_SECONDS)
    occurred = (event.get("ts") or 0) / 1000
    if time.time() - occurred > max_age:
        return None
    return token


def _unpack(payload: str) -> tuple[list, list]:
    """The replies and effects an outbox payload holds."""
    data = orjson.loads(payload)
    return from_json(data.get("replies", [])), from_json(data.get("effects", []))


def _deliver(app: Flask, event: dict, replies: list, effects: list, recovered: bool) -> None:
    """Send a committed turn's answer and queue its effects (each at most once)."""
    user_id, event_id = event["user"], event["id"]
    login_url = None
    if any(isinstance(r, AccountLinkPrompt) for r in replies):
        try:
            login_url = link_url(user_id)
        except Exception:  # noqa: BLE001
            log.warning("could not issue a link token for %s", mask_user(user_id))
            login_url = f"{app.config['PUBLIC_BASE_URL']}/login"
    for i, effect in enumerate(effects):
        jobs.perform(effect, once=f"{event_id}:{i}")
    deliver(user_id, _reply_token(app, event), render(replies, login_url), key_base=event_id, recovered=recovered)
    metrics.observe_turn(event["kind"], event.get("ts") or None)


def process(app: Flask, entry: Entry, event: dict | None = None) -> str | None:
    """Handle one queued event exactly once; raise ``Transient`` to have it tried again later.
    Returns the event's id when it is to be remembered as done (with the entry's
    acknowledgement, in one round trip), None when not (a fault asked for a redelivery).
    ``event``: the entry's payload, already read (``Backlog``)."""
    if event is None:
        event = orjson.loads(entry.payload)
    with logs.request_context(event.get("request_id")):  # the webhook request's id, in this worker's logs
        return _process(app, entry, event)


def _process(app: Flask, entry: Entry, event: dict) -> str | None:
    queue: EventQueue = app.extensions["event_queue"]
    db = app.extensions["db"]
    event_id = event["id"]
    try:
        payload = None
        answer = None  # (replies, effects) of the turn run here, or None: read them from the payload
        recovered = False
        # A fresh entry cannot be done: the webhook queues an event id only once. One read
        # again (a crash or a retry) may have been, or its turn may have committed.
        if entry.deliveries > 1:
            if queue.is_done(event_id):
                return None
            with db.begin() as session:
                row = outbox.get(session, event_id)
                if row is not None and row.delivered_at is not None:
                    return event_id
                if row is not None:
                    payload, recovered = row.payload, True
        if payload is None:
            incoming = incoming_of(event)
            try:
                outcome, payload = _run_turn(app, incoming, event_id)
                metrics.count_signals(outcome.signals)
                if payload is not None:
                    answer = (outcome.replies, outcome.effects)
            except IntegrityError:
                with db.begin() as session:  # another worker ran this very event meanwhile
                    row = outbox.get(session, event_id)
                if row is None:
                    raise
                log.info("event %s was handled by another worker", event_id)
                return None
            if payload is None:  # the engine wrote no outbox row: read what is there
                with db.begin() as session:
                    row = outbox.get(session, event_id)
                    payload = row.payload if row is not None else None
            if payload is None:  # delivered by another worker already
                return event_id
        _deliver(app, event, *(answer or _unpack(payload)), recovered)
        return event_id  # its outbox row is marked delivered in the next batch (``DeliveredMarks``)
    except Exception as exc:
        if _is_transient(exc):
            raise Transient(exc.__class__.__name__) from exc
        # A fault in a step (a bug, not an outage): nothing was saved, so the customer can
        # simply send again. Say so instead of staying silent.
        log.error("event from %s failed in the conversation (%s); asked the customer to send again",
                  mask_user(event.get("user", "")), _fault(sys.exc_info()[1]))
        try:
            queue.release_claim(event_id)
        except redis.RedisError:
            log.warning("could not release the claim of a failed event")
        deliver(event["user"], _reply_token(app, event), render([TextReply(messages.BUSY_RETRY)]),
                key_base=event_id + ":fault")
        return None


class Backlog:
    """What one consumer has read and not yet handled, served fairly: each person's events in
    the order they came, and the persons taking turns, one event each (round robin).

    A partition used to be served first come, first served: one person's flood (hundreds of
    messages in seconds) put everyone else of the partition behind all of it, and that
    person's events, handled one at a time, aged past the reply token's life; each late
    answer is a push (the quota, and three to five times a reply's CPU: an RQ job, the SDK's
    models). Now a person who has just sent one message waits for at most one event of each
    other person in hand, whatever they queued, and a person's order is untouched (their
    events leave their own lane in order, and one consumer serves the lane)."""

    def __init__(self) -> None:
        self._lanes: dict[tuple[int, str], deque[tuple[Entry, dict | None]]] = {}
        self._rotation: deque[tuple[int, str]] = deque()
        self._per_partition: dict[int, int] = {}
        self.size = 0

    def add(self, entries: list[Entry]) -> None:
        """Entries as read (each partition's in stream order): each joins its person's lane."""
        for entry in entries:
            try:
                event = orjson.loads(entry.payload)
                person = (entry.partition, str(event["user"]))
            except (ValueError, KeyError, TypeError):  # not ours to judge here: ``process`` fails it
                event, person = None, (entry.partition, "entry:" + entry.entry_id)
            lane = self._lanes.get(person)
            if lane is None:
                lane = self._lanes[person] = deque()
                self._rotation.append(person)
            lane.append((entry, event))
            self.size += 1
            self._per_partition[entry.partition] = self._per_partition.get(entry.partition, 0) + 1

    def pop(self) -> tuple[Entry, dict | None] | None:
        """The next person's oldest event (None when nothing is in hand)."""
        if not self._rotation:
            return None
        person = self._rotation.popleft()
        lane = self._lanes[person]
        item = lane.popleft()
        if lane:
            self._rotation.append(person)
        else:
            del self._lanes[person]
        self.size -= 1
        left = self._per_partition[person[0]] - 1
        if left:
            self._per_partition[person[0]] = left
        else:
            del self._per_partition[person[0]]
        return item

    def waiting(self, entry: Entry, event: dict) -> int:
        """How many more of this person's entries are in hand (behind ``entry``, just popped)."""
        lane = self._lanes.get((entry.partition, str(event.get("user"))))
        return len(lane) if lane else 0

    def take_while(self, entry: Entry, event: dict, keep_taking) -> list[tuple[Entry, dict | None]]:
        """Take this person's next entries while ``keep_taking(entry, event)`` holds (in order)."""
        person = (entry.partition, str(event.get("user")))
        lane = self._lanes.get(person)
        taken = []
        while lane and keep_taking(*lane[0]):
            taken.append(lane.popleft())
        if taken:
            self.size -= len(taken)
            left = self._per_partition[entry.partition] - len(taken)
            if left:
                self._per_partition[entry.partition] = left
            else:
                del self._per_partition[entry.partition]
            if not lane:
                del self._lanes[person]
                self._rotation.remove(person)
        return taken

    def drop(self, partition: int) -> None:
        """Forget the partition's entries (stuck behind an outage, or no longer ours): they stay
        pending in Redis, to be read again in order."""
        if self._per_partition.pop(partition, None) is None:
            return
        gone = [person for person in self._lanes if person[0] == partition]
        for person in gone:
            self.size -= len(self._lanes.pop(person))
        self._rotation = deque(person for person in self._rotation if person in self._lanes)

    def partitions(self) -> set[int]:
        """The partitions something in hand belongs to."""
        return set(self._per_partition)


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
                    outbox.delivered_many(session, batch, datetime.now(TOKYO))
                marked += len(batch)
        except Exception as exc:  # noqa: BLE001 - kept for the next batch
            log.warning("outbox rows not marked delivered yet (%s); trying again shortly", exc.__class__.__name__)
            with self._lock:
                self._ids = (ids[marked:] + self._ids)[-self.MAX_KEPT:]
        return marked


class EventWorker:
    """Consumer threads for the event queue, inside ``flask --app app worker`` (or, under
    ``make run``, inside the web process), plus one thread renewing their leases."""

    def __init__(self, app: Flask, threads: int = 2, block_ms: int = 1000) -> None:
        self.app = app
        self.queue: EventQueue = app.extensions["event_queue"]
        self.threads = threads
        self.block_ms = block_ms
        self.stopping = threading.Event()
        self.consumers = [Leases() for _ in range(threads)]
        self._threads: list[threading.Thread] = []
        self.handled = 0
        self.delivered = DeliveredMarks(app)

    # -- running ----------------------------------------------------------------------------
    def start(self) -> None:
        with self.app.app_context():
            try:  # count every consumer of this process before any takes its share
                for leases in self.consumers:
                    self.queue.heartbeat(leases.consumer)
                stranded = self.queue.stranded()
                if stranded:
                    log.error("%s events wait in partitions %s, beyond EVENT_PARTITIONS=%s, and nobody reads them: "
                              "set it back until they are answered (docs/deployment.md, changing EVENT_PARTITIONS)",
                              sum(stranded.values()), sorted(stranded), self.queue.partitions)
            except redis.RedisError:
                pass  # the consumers report it
        for leases in self.consumers:
            thread = threading.Thread(target=self._consume, args=(leases,), daemon=True,
                                      name=f"events-{leases.consumer}")
            thread.start()
            self._threads.append(thread)
        renewer = threading.Thread(target=self._renew, daemon=True, name="events-leases")
        renewer.start()
        self._threads.append(renewer)
        marker = threading.Thread(target=self._mark_delivered, daemon=True, name="events-outbox")
        marker.start()
        self._threads.append(marker)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the turn in hand, leave the rest queued, give the leases back."""
        self.stopping.set()
        with self.queue.wakeup:
            self.queue.wakeup.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for leases in self.consumers:
            self._let_go(leases)
        self.delivered.flush()

    def drain(self) -> int:
        """Handle everything queued now, in this thread (tests; ``worker --burst``); returns how many."""
        leases = Leases(consumer="drain-" + Leases().consumer)
        done = 0
        with self.app.app_context():
            self.queue.ensure_groups(force=True)
            for partition in range(self.queue.partitions):
                if self.queue.take_lease(partition, leases.consumer):
                    leases.held.add(partition)
                    self.queue.claim_pending(partition, leases.consumer)
            try:
                while True:
                    backlog = Backlog()  # every pending (older) entry first, then what is new, per partition
                    after = {partition: "0" for partition in leases.held}
                    while after:
                        entries = self.queue.read(sorted(after), leases.consumer, pending=True, count=READ_COUNT,
                                                  acks=leases.acks, after=after)
                        for partition in list(after):
                            mine = [e.entry_id for e in entries if e.partition == partition]
                            if mine:
                                after[partition] = mine[-1]
                            else:
                                del after[partition]
                        backlog.add(entries)
                    backlog.add(self.queue.read(sorted(leases.held), leases.consumer, pending=False,
                                                count=READ_COUNT))
                    if not backlog.size:
                        return done
                    finished, stuck = self._serve(leases, backlog, retry_transient=False)
                    done += finished
                    if stuck:
                        return done  # what met the outage stays pending, in order, for the next consumer
            finally:
                self._let_go(leases)
                self.delivered.flush()

    # -- the loops --------------------------------------------------------------------------
    def _consume(self, leases: Leases) -> None:
        """One consumer: read its partitions into a ``Backlog`` (pending entries first, where a
        partition was taken over or met an outage), serve it fairly for a slice of time, read
        again (which also acknowledges what was handled), and so on; block only when idle."""
        failures = 0
        backlog = Backlog()
        recovering: dict[int, str] = {}  # partition -> the last pending id read; new entries wait meanwhile
        retry_at: dict[int, float] = {}  # partition stuck behind an outage -> when to read it again
        next_heartbeat = 0.0
        with self.app.app_context():
            while not self.stopping.is_set():
                try:
                    self.queue.ensure_groups()
                    if time.monotonic() >= next_heartbeat:  # the lease thread beats too; this is a backstop
                        self.queue.heartbeat(leases.consumer)
                        next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
                    if time.monotonic() >= leases.next_rebalance:
                        self._rebalance(leases)
                    with leases.lock:
                        fresh, leases.fresh = set(leases.fresh), set()
                        held = sorted(leases.held)
                    for partition in fresh:  # taken over: what its last owner left comes first
                        self.queue.claim_pending(partition, leases.consumer)
                        backlog.drop(partition)
                        recovering[partition] = "0"
                        retry_at.pop(partition, None)
                    for partition in backlog.partitions() - set(held):
                        backlog.drop(partition)  # given away or lost: its new owner reads it
                    for partition in [p for p in recovering if p not in held]:
                        recovering.pop(partition)
                        retry_at.pop(partition, None)
                    now = time.monotonic()
                    due = [p for p in recovering if retry_at.get(p, 0.0) <= now]
                    if due:  # pending entries, in order, after the last one read
                        entries = self.queue.read(due, leases.consumer, pending=True, count=READ_COUNT,
                                                  acks=leases.acks, after={p: recovering[p] for p in due})
                        for partition in due:
                            mine = [e.entry_id for e in entries if e.partition == partition]
                            if mine:
                                recovering[partition] = mine[-1]
                            else:  # every pending entry is in hand: new ones may follow them
                                recovering.pop(partition)
                                retry_at.pop(partition, None)
                        backlog.add(entries)
                    normal = [p for p in held if p not in recovering]
                    room = BACKLOG_MAX - backlog.size
                    if normal and room > 0:
                        idle = not backlog.size and not due
                        started = time.monotonic()
                        entries = self.queue.read(normal, leases.consumer, pending=False, count=min(READ_COUNT, room),
                                                  block_ms=self.block_ms if idle else None, acks=leases.acks)
                        backlog.add(entries)
                        if idle and not entries and time.monotonic() - started < self.block_ms / 2000:
                            with self.queue.wakeup:  # the Redis stand-in does not block: wait here
                                self.queue.wakeup.wait(self.block_ms / 1000)
                    elif not backlog.size and not due:  # nothing to read until a retry falls due
                        self.queue.flush_acks(leases.acks)
                        soonest = min(retry_at.values(), default=now + self.block_ms / 1000)
                        self.stopping.wait(max(0.01, min(self.block_ms / 1000, soonest - now)))
                    else:
                        self.queue.flush_acks(leases.acks)
                    _done, stuck = self._serve(leases, backlog, retry_transient=True,
                                               until=time.monotonic() + SERVE_SLICE_SECONDS)
                    for partition in stuck:  # read again from its first pending entry, after a pause
                        recovering[partition] = "0"
                        retry_at[partition] = time.monotonic() + BACKOFF_SECONDS[
                            min(failures, len(BACKOFF_SECONDS) - 1)]
                    failures = failures + 1 if stuck else 0
                except redis.ResponseError as exc:
                    self._reread(backlog, recovering, leases)
                    if "NOGROUP" in str(exc):
                        self.queue.ensure_groups(force=True)
                        continue
                    self._pause(failures, exc)
                    failures += 1
                except (redis.RedisError, StateUnavailable) as exc:
                    self._reread(backlog, recovering, leases)
                    self._pause(failures, exc)
                    failures += 1

    @staticmethod
    def _reread(backlog: Backlog, recovering: dict[int, str], leases: Leases) -> None:
        """After an error between reads, what is in hand may be incomplete: forget it and read
        every held partition again from its first pending entry (nothing is skipped, order kept)."""
        with leases.lock:
            held = sorted(leases.held)
        for partition in held:
            backlog.drop(partition)
            recovering[partition] = "0"

    def _pause(self, failures: int, exc: BaseException) -> None:
        delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
        if failures == 0 or failures % 10 == 0:
            log.error("event queue unreachable (%s); trying again in %ss", exc.__class__.__name__, delay)
        self.stopping.wait(delay)

    def _handle_batch(self, leases: Leases, entries: list[Entry], retry_transient: bool) -> tuple[int, set[int]]:
        """Handle these entries (``Backlog`` order: each person's in order, persons taking turns).
        Returns how many were finished and the partitions stuck behind an outage."""
        backlog = Backlog()
        backlog.add(entries)
        return self._serve(leases, backlog, retry_transient)

    def _serve(self, leases: Leases, backlog: Backlog, retry_transient: bool,
               until: float | None = None) -> tuple[int, set[int]]:
        """Handle what the backlog holds, person by person in turn, until it is empty (or the
        time ``until``, or a stop). An entry that meets an outage stops its partition: the rest
        of it is dropped from the backlog and stays pending behind that entry, in order (without
        ``retry_transient``, everything stops there). Returns how many were finished and the
        partitions that are stuck."""
        stuck: set[int] = set()
        done = 0
        while backlog.size:
            if retry_transient and (self.stopping.is_set() or (until is not None and time.monotonic() >= until)):
                break
            entry, event = backlog.pop()
            partition = entry.partition
            if retry_transient and time.monotonic() >= leases.next_rebalance:
                self._rebalance(leases, keep=partition)  # more consumers came up: give some away
            with leases.lock:
                still_held = partition in leases.held
            if not still_held:  # lost or given away: its new owner carries on from here
                backlog.drop(partition)
                continue
            flood = self._flood(leases, backlog, entry, event)
            if flood:
                done += len(flood)
                continue
            try:
                done_id = process(self.app, entry, event)
            except Transient as exc:
                log.warning("event waits: %s did not answer; trying again shortly", exc)
                stuck.add(partition)
                backlog.drop(partition)
                if not retry_transient:
                    break
                continue
            leases.acks.append((entry, done_id))  # acknowledged with the next read (``EventQueue.read``)
            if done_id is not None:
                self.delivered.add(done_id)
            self.handled += 1
            done += 1
        return done, stuck

    def _stale_message(self, entry: Entry, event: dict | None) -> bool:
        """A fresh entry (never read before) of a message whose reply token went stale."""
        return (entry.deliveries == 1 and event is not None and event.get("kind") in _FLOOD_KINDS
                and bool(event.get("reply")) and bool(event.get("ts")) and _reply_token(self.app, event) is None)

    def _flood(self, leases: Leases, backlog: Backlog, entry: Entry, event: dict | None) -> list[Entry]:
        """A flood's stale messages (``FLOOD_WAITING``), answered once together and acknowledged
        (with the next read) without a turn each; [] when this entry is no such thing."""
        limit = self.app.config.get("EVENT_FLOOD_WAITING", FLOOD_WAITING)
        if not limit or not self._stale_message(entry, event) or backlog.waiting(entry, event) < limit:
            return []
        run = [(entry, event)] + backlog.take_while(entry, event, self._stale_message)
        user = event["user"]
        try:
            tell = self.queue.first_flood_notice(user, FLOOD_TELL_SECONDS)
        except redis.RedisError:
            tell = True  # better told twice than not at all
        log.info("%s stale messages from %s (a flood) answered once%s", len(run), mask_user(user),
                 "" if tell else " already")
        if tell:
            try:  # the token is stale: a push, keyed to the run's first event (sent once)
                deliver(user, None, render([TextReply(messages.MANY_MESSAGES)]), key_base=event["id"] + ":many")
            except Exception as exc:  # noqa: BLE001 - a courtesy; the messages are acknowledged regardless
                log.warning("could not tell %s about the flood (%s)", mask_user(user), exc.__class__.__name__)
        for flooded, flooded_event in run:  # remembered as done: a redelivery is ignored
            leases.acks.append((flooded, flooded_event["id"]))
            self.handled += 1
        return [flooded for flooded, _event in run]

    def _rebalance(self, leases: Leases, keep: int | None = None) -> None:
        """Hold about ``partitions / live consumers`` leases: take free ones, give extras back
        (never ``keep``, the partition whose event is being handled)."""
        leases.next_rebalance = time.monotonic() + max(0.5, self.queue.lease_seconds / 5)
        fair = self.queue.fair_share()
        with leases.lock:
            held = set(leases.held)
        if len(held) > fair:
            extras = sorted(held - {keep})[: len(held) - fair]
            for partition in extras:
                self.queue.drop_lease(partition, leases.consumer)
                with leases.lock:
                    leases.held.discard(partition)
            return
        candidates = [p for p in range(self.queue.partitions) if p not in held]
        _LEASE_ORDER.shuffle(candidates)
        for partition in candidates:
            if len(held) >= fair:
                break
            if self.queue.take_lease(partition, leases.consumer):
                held.add(partition)
                with leases.lock:
                    leases.held.add(partition)
                    leases.fresh.add(partition)

    def _renew(self) -> None:
        """Renew every consumer's leases well before they run out, however long a turn takes."""
        interval = max(0.2, self.queue.lease_seconds / 3)
        while not self.stopping.wait(interval):
            for leases in self.consumers:
                try:
                    self.queue.heartbeat(leases.consumer)
                    with leases.lock:
                        held = sorted(leases.held)
                    for partition in held:
                        if not self.queue.renew_lease(partition, leases.consumer):
                            with leases.lock:
                                still_held = partition in leases.held
                                leases.held.discard(partition)
                            if still_held:  # not merely given away by a rebalance meanwhile
                                log.warning("lost the lease of event partition %s", partition)
                except redis.RedisError:
                    pass  # the consumer loop reports outages

    def _mark_delivered(self, interval: float = 0.5) -> None:
        with self.app.app_context():
            while not self.stopping.wait(interval):
                self.delivered.flush()

    def _let_go(self, leases: Leases) -> None:
        try:
            self.queue.flush_acks(leases.acks)  # before the leases go: the next owner must not see them
            with leases.lock:
                held, leases.held = sorted(leases.held), set()
            for partition in held:
                self.queue.drop_lease(partition, leases.consumer)
            self.queue.forget_consumer(leases.consumer)
        except redis.RedisError:
            pass  # the leases expire by themselves


def drain_events(app: Flask) -> int:
    """Handle every queued event now, in this thread."""
    return EventWorker(app, threads=0).drain()


def start_in_process(app: Flask) -> EventWorker:
    """The event workers inside the web process (``make run``, ``EVENTS_INLINE=1``)."""
    worker = EventWorker(app, threads=app.config.get("EVENT_WORKER_THREADS", 2), block_ms=500)
    worker.start()
    app.extensions["event_worker"] = worker
    return worker


def current_queue() -> EventQueue:
    return current_app.extensions["event_queue"]
