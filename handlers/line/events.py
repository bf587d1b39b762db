"""The event workers: take LINE events off the queue, run each turn exactly once, answer.

Each consumer thread holds the leases of some partitions of the queue (``storage.events``)
and handles their events one after the other, so a person's events are answered one at a
time and in the order LINE sent them, on any number of threads, processes and hosts.

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
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import redis
from flask import Flask, current_app
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import messages
from bot.types import AccountLinkPrompt, EventKind, Incoming, Outcome, TextReply, fields_of, from_json, to_json
from handlers import jobs, logs, metrics
from handlers.line.delivery import deliver, link_url, mask_user, start_loading
from handlers.line.render import render
from storage import outbox
from storage.events import Entry, EventQueue, Leases
from storage.state import StateUnavailable

log = logging.getLogger(__name__)
TOKYO = ZoneInfo("Asia/Tokyo")

REPLY_TOKEN_MAX_AGE_SECONDS = 50  # LINE promises a reply token for about a minute, no more
LOADING_AFTER_SECONDS = 0.5  # show the loading animation only when a turn takes noticeable time
LOADING_SETTLE_SECONDS = 1.0  # how long a reply waits for an animation request already under way
BACKOFF_SECONDS = (0.5, 1, 2, 5, 10, 30)
HEARTBEAT_SECONDS = 1.0  # a consumer's own heartbeat, at most this often (not once per read)


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
        jobs.enqueue_effect(type(effect).__name__, fields_of(effect), once=f"{event_id}:{i}")
    deliver(user_id, _reply_token(app, event), render(replies, login_url), key_base=event_id, recovered=recovered)
    metrics.observe_turn(event["kind"], event.get("ts") or None)


def process(app: Flask, entry: Entry) -> str | None:
    """Handle one queued event exactly once; raise ``Transient`` to have it tried again later.
    Returns the event's id when it is to be remembered as done (with the entry's
    acknowledgement, in one round trip), None when not (a fault asked for a redelivery)."""
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
                    entries = self.queue.read(sorted(leases.held), leases.consumer, pending=True, acks=leases.acks)
                    entries += self.queue.read(sorted(leases.held), leases.consumer, pending=False)
                    if not entries:
                        return done
                    try:
                        done += self._handle_batch(leases, entries, retry_transient=False)[0]
                    except Transient:
                        return done  # what met the outage stays pending, in order, for the next consumer
            finally:
                self._let_go(leases)
                self.delivered.flush()

    # -- the loops --------------------------------------------------------------------------
    def _consume(self, leases: Leases) -> None:
        failures = 0
        retry_at: dict[int, float] = {}
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
                    for partition in fresh:
                        self.queue.claim_pending(partition, leases.consumer)
                        retry_at[partition] = 0.0
                    now = time.monotonic()
                    due = [p for p, at in retry_at.items() if at <= now and p in held]
                    if due:
                        entries = self.queue.read(due, leases.consumer, pending=True, acks=leases.acks)
                        for p in due:
                            if not any(e.partition == p for e in entries):
                                retry_at.pop(p, None)  # nothing of ours left pending there
                    else:
                        waiting = [p for p in held if p not in retry_at]
                        started = time.monotonic()
                        entries = self.queue.read(waiting, leases.consumer, pending=False, block_ms=self.block_ms,
                                                  acks=leases.acks)
                        if not entries and time.monotonic() - started < self.block_ms / 2000:
                            with self.queue.wakeup:  # the Redis stand-in does not block: wait here
                                self.queue.wakeup.wait(self.block_ms / 1000)
                    _done, stuck = self._handle_batch(leases, entries, retry_transient=True)
                    for p in stuck:
                        retry_at[p] = time.monotonic() + BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                    failures = failures + 1 if stuck else 0
                except redis.ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        self.queue.ensure_groups(force=True)
                        continue
                    self._pause(failures, exc)
                    failures += 1
                except (redis.RedisError, StateUnavailable) as exc:
                    self._pause(failures, exc)
                    failures += 1


    def _pause(self, failures: int, exc: BaseException) -> None:
        delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
        if failures == 0 or failures % 10 == 0:
            log.error("event queue unreachable (%s); trying again in %ss", exc.__class__.__name__, delay)
        self.stopping.wait(delay)

    def _handle_batch(self, leases: Leases, entries: list[Entry], retry_transient: bool) -> tuple[int, set[int]]:
        """Handle entries partition by partition, in order; an entry that meets an outage stops
        its partition (the rest stay pending behind it). Returns how many were finished and
        the partitions that are stuck behind an outage."""
        stuck: set[int] = set()
        by_partition: dict[int, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_partition[entry.partition].append(entry)
        done = 0
        for partition, items in by_partition.items():
            for entry in items:
                if self.stopping.is_set() and retry_transient:
                    return done, stuck
                if time.monotonic() >= leases.next_rebalance and retry_transient:
                    self._rebalance(leases, keep=partition)  # more consumers came up: give some away
                with leases.lock:
                    if partition not in leases.held:
                        break  # lost or given away: its new owner carries on from here
                try:
                    done_id = process(self.app, entry)
                except Transient as exc:
                    log.warning("event waits: %s did not answer; trying again shortly", exc)
                    stuck.add(partition)
                    if not retry_transient:
                        raise
                    break
                leases.acks.append((entry, done_id))  # acknowledged with the next read (``EventQueue.read``)
                if done_id is not None:
                    self.delivered.add(done_id)
                self.handled += 1
                done += 1
        return done, stuck

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
        random.shuffle(candidates)
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
