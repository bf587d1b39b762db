"""The event worker's runtime: consumer threads that lease partitions of the event queue and
serve them, each person's events in order.

Each consumer thread holds the leases of some partitions of the queue (``storage.events``)
and handles their events one at a time (``turn.process``): each person's in the order LINE
sent them, on any number of threads, processes and hosts, and the persons it has in hand
taking turns (``Backlog``), so one person's flood does not hold back the others of the
partition. A flood whose messages waited past the reply token's life is answered once, not by
a push each (``FLOOD_WAITING``). A handled event is remembered as ``done`` and its entry
acknowledged with the next read (one round trip to Redis); its outbox row is marked delivered
with others, in a batch, within half a second (``DeliveredMarks``).

A worker killed anywhere leaves the entry pending; the consumer that takes the partition over
reads it again first (``turn`` recovers the committed answer instead of running the turn
again). Redis or the database down: the entry stays where it is and is tried again with
backoff, the partition's later events waiting behind it, in order.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import redis
from flask import Flask

from bot import messages
from bot.types import EventKind, TextReply
from handlers.line.backlog import Backlog
from handlers.line.delivery import deliver, mask_user
from handlers.line.queued import QueuedEvent
from handlers.line.render import render
from handlers.line.turn import DeliveredMarks, Transient, process, reply_token
from storage.events import Entry, EventQueue, Leases
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)
# Consumers pick free partitions in an order of their own, from a generator of their own: drawing from
# the global one would change the state that other code (and test frameworks) rely on.
_LEASE_ORDER = random.Random()

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



def _backoff(failures: int) -> float:
    return BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]


@dataclass
class _Consumer:
    """One consumer thread's own state between reads."""

    backlog: Backlog = field(default_factory=Backlog)
    recovering: dict[int, str] = field(default_factory=dict)  # partition -> the last pending id read; new wait
    retry_at: dict[int, float] = field(default_factory=dict)  # partition stuck behind an outage -> read it when
    held: list[int] = field(default_factory=list)  # the partitions held, as of the last look
    failures: int = 0
    next_heartbeat: float = 0.0


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
            try:
                while True:
                    self._lease_waiting(leases)
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

    def _lease_waiting(self, leases: Leases) -> None:
        """Take the free leases of the partitions where events wait (one round trip finds them;
        an idle partition costs nothing), and our pending entries there."""
        for partition, waiting in self.queue.depth().items():
            if waiting and partition not in leases.held:
                self.queue.ensure_group(partition)  # a flushed Redis: the stream came back without it
                if self.queue.take_lease(partition, leases.consumer):
                    leases.held.add(partition)
                    self.queue.claim_pending(partition, leases.consumer)

    # -- the loops --------------------------------------------------------------------------
    def _consume(self, leases: Leases) -> None:
        """One consumer: read its partitions into a ``Backlog`` (pending entries first, where a
        partition was taken over or met an outage), serve it fairly for a slice of time, read
        again (which also acknowledges what was handled), and so on; block only when idle."""
        state = _Consumer()
        with self.app.app_context():
            while not self.stopping.is_set():
                try:
                    self._keep_up(leases, state)
                    due = self._read_pending(leases, state)
                    self._read_new(leases, state, due)
                    _done, stuck = self._serve(leases, state.backlog, retry_transient=True,
                                               until=time.monotonic() + SERVE_SLICE_SECONDS)
                    for partition in stuck:  # read again from its first pending entry, after a pause
                        state.recovering[partition] = "0"
                        state.retry_at[partition] = time.monotonic() + _backoff(state.failures)
                    state.failures = state.failures + 1 if stuck else 0
                except redis.ResponseError as exc:
                    self._reread(state.backlog, state.recovering, leases)
                    if "NOGROUP" in str(exc):
                        self.queue.ensure_groups(force=True)
                        continue
                    self._pause(state.failures, exc)
                    state.failures += 1
                except (redis.RedisError, StateUnavailable) as exc:
                    self._reread(state.backlog, state.recovering, leases)
                    self._pause(state.failures, exc)
                    state.failures += 1

    def _keep_up(self, leases: Leases, state: _Consumer) -> None:
        """Heartbeat and rebalance when due; take over what a partition newly held left pending,
        and forget what belongs to partitions no longer held."""
        self.queue.ensure_groups()
        if time.monotonic() >= state.next_heartbeat:  # the lease thread beats too; this is a backstop
            self.queue.heartbeat(leases.consumer)
            state.next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
        if time.monotonic() >= leases.next_rebalance:
            self._rebalance(leases)
        with leases.lock:
            fresh, leases.fresh = set(leases.fresh), set()
            state.held = sorted(leases.held)
        for partition in fresh:  # taken over: what its last owner left comes first
            self.queue.claim_pending(partition, leases.consumer)
            state.backlog.drop(partition)
            state.recovering[partition] = "0"
            state.retry_at.pop(partition, None)
        for partition in state.backlog.partitions() - set(state.held):
            state.backlog.drop(partition)  # given away or lost: its new owner reads it
        for partition in [p for p in state.recovering if p not in state.held]:
            state.recovering.pop(partition)
            state.retry_at.pop(partition, None)

    def _read_pending(self, leases: Leases, state: _Consumer) -> list[int]:
        """Read the pending entries, in order after the last one read, of the recovering partitions
        whose retry is due; returns those partitions."""
        now = time.monotonic()
        due = [p for p in state.recovering if state.retry_at.get(p, 0.0) <= now]
        if not due:
            return due
        entries = self.queue.read(due, leases.consumer, pending=True, count=READ_COUNT, acks=leases.acks,
                                  after={p: state.recovering[p] for p in due})
        for partition in due:
            mine = [e.entry_id for e in entries if e.partition == partition]
            if mine:
                state.recovering[partition] = mine[-1]
            else:  # every pending entry is in hand: new ones may follow them
                state.recovering.pop(partition)
                state.retry_at.pop(partition, None)
        state.backlog.add(entries)
        return due

    def _read_new(self, leases: Leases, state: _Consumer, due: list[int]) -> None:
        """Read new entries of the partitions not recovering, while the backlog has room (blocking
        when idle); or, with nothing to read, acknowledge and wait for the next retry."""
        normal = [p for p in state.held if p not in state.recovering]
        room = BACKLOG_MAX - state.backlog.size
        if normal and room > 0:
            idle = not state.backlog.size and not due
            started = time.monotonic()
            entries = self.queue.read(normal, leases.consumer, pending=False, count=min(READ_COUNT, room),
                                      block_ms=self.block_ms if idle else None, acks=leases.acks)
            state.backlog.add(entries)
            if idle and not entries and time.monotonic() - started < self.block_ms / 2000:
                with self.queue.wakeup:  # the Redis stand-in does not block: wait here
                    self.queue.wakeup.wait(self.block_ms / 1000)
        elif not state.backlog.size and not due:  # nothing to read until a retry falls due
            self.queue.flush_acks(leases.acks)
            now = time.monotonic()
            soonest = min(state.retry_at.values(), default=now + self.block_ms / 1000)
            self.stopping.wait(max(0.01, min(self.block_ms / 1000, soonest - now)))
        else:
            self.queue.flush_acks(leases.acks)

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
        delay = _backoff(failures)
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

    def _stale_message(self, entry: Entry, event: QueuedEvent | None) -> bool:
        """A fresh entry (never read before) of a message whose reply token went stale."""
        return (entry.deliveries == 1 and event is not None and event.kind in _FLOOD_KINDS
                and bool(event.reply) and bool(event.ts) and reply_token(self.app, event) is None)

    def _flood(self, leases: Leases, backlog: Backlog, entry: Entry, event: QueuedEvent | None) -> list[Entry]:
        """A flood's stale messages (``FLOOD_WAITING``), answered once together and acknowledged
        (with the next read) without a turn each; [] when this entry is no such thing."""
        limit = self.app.config.get("EVENT_FLOOD_WAITING", FLOOD_WAITING)
        if not limit or not self._stale_message(entry, event) or backlog.waiting(entry, event) < limit:
            return []
        run = [(entry, event)] + backlog.take_while(entry, event, self._stale_message)
        user = event.user
        try:
            tell = self.queue.first_flood_notice(user, FLOOD_TELL_SECONDS)
        except redis.RedisError:
            tell = True  # better told twice than not at all
        log.info("%s stale messages from %s (a flood) answered once%s", len(run), mask_user(user),
                 "" if tell else " already")
        if tell:
            try:  # the token is stale: a push, keyed to the run's first event (sent once)
                deliver(user, None, render([TextReply(messages.MANY_MESSAGES)]), key_base=event.id + ":many")
            except Exception as exc:  # noqa: BLE001 - a courtesy; the messages are acknowledged regardless
                log.warning("could not tell %s about the flood (%s)", mask_user(user), exc.__class__.__name__)
        for flooded, flooded_event in run:  # remembered as done: a redelivery is ignored
            leases.acks.append((flooded, flooded_event.id))
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
            # What was answered goes acknowledged: the next owner would answer it again (its reply
            # token spent, by push). Unacknowledged, the lease stays (an error here keeps it).
            self.queue.flush_acks(leases.acks)
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
