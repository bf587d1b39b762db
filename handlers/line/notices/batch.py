"""The batch job: one claim's rows pushed at their slots under the global rate, a few at a time in
threads, with the outcomes written every fraction of a second and the lease renewed as it goes.

``run.dispatch`` queues ``send_batch_job`` with a claim token (bulk work, ``jobs.bulk``). The job
settles the rows not to be pushed (``outcomes.before_push``), then ``_Pacer`` takes slots from
``rate`` for as many rows as there are idle threads, in one round trip, and hands each row to a
thread at its slot, never before; ``_Batch`` pushes it (``template`` body, ``push`` client) and
keeps what stops or slows the rest: a stop (the quota, the access token) or a 429.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date, timedelta
from functools import partial

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from handlers import clock
from handlers.line.notices import rate
from handlers.line.notices.config import NoticeSettings, database, settings
from handlers.line.notices.outcomes import Outcome, after_push, before_push, write_outcomes
from handlers.line.notices.push import QUOTA, RATE_LIMITED, STOP, push_client, push_notice
from handlers.line.notices.template import notice_template
from storage import notices as store
from storage.errors import Unavailable

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2  # outcomes are written at least this often (and a batch's last ones at its end)
SLOT_TICK = 0.002  # a batch hands out the rows whose slots have come at most this often (never early)
LATE_SECONDS = 0.05  # rows this late for their slots take new ones (the old per-push limiter's burst)


class _Batch:
    """One batch at work: its rows' outcomes, and what stops or slows its remaining pushes."""

    def __init__(self, app: Flask, token: str, config: NoticeSettings, month: date) -> None:
        self.app, self.token, self.config, self.month = app, token, config, month
        self.clock = partial(clock.now, app)  # batch threads run outside the app context
        self.client = push_client(app)
        self.lock = threading.Lock()
        self.done: list[Outcome] = []
        self.halted = ""  # "stop": the month was stopped; "slow": LINE said 429; the rest waits
        self.unused = 0  # slots taken from the quota budget whose notice LINE did not count
        self.in_flight = 0  # rows handed to a thread and not done yet

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.done.append(outcome)

    def push(self, target: store.NoticeTarget) -> None:
        """Push one row (its slot has come), unless the batch was halted meanwhile."""
        try:
            self._push(target)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _push(self, target: store.NoticeTarget) -> None:
        if self.halted:
            self.hold(target)
            return
        template = notice_template(target.billing_month, target.due_date)
        body = template.body(target.line_user_id or "", target.total or 0)
        outcome, error = push_notice(self.client, body, store.retry_key(target.account_id, target.billing_month),
                                     self.config.push_timeout)
        if outcome in (QUOTA, STOP, RATE_LIMITED):
            with self.lock:
                self.unused += 1  # LINE refused it: it used no quota
                first = not self.halted
                self.halted = self.halted or ("slow" if outcome == RATE_LIMITED else "stop")
            with self.app.app_context():
                if outcome == RATE_LIMITED and first:
                    rate.slow_down()
                elif outcome != RATE_LIMITED:
                    rate.stop(self.month, "quota" if outcome == QUOTA else "unauthorized")
        self.add(after_push(target, self.config, outcome, error, self.clock()))

    def hold(self, target: store.NoticeTarget) -> None:
        """A row not pushed because the batch halted: back to the queue (after a 429, in a second)."""
        now = self.clock()
        with self.lock:
            self.unused += 1
            slow = self.halted == "slow"
        self.add(Outcome("retry", target.delivery_id, now, "http_429", now + timedelta(seconds=1), attempted=False)
                 if slow else Outcome("release", target.delivery_id, now))

    def flush(self) -> None:
        with self.lock:
            taken = self.done[:]
            del self.done[:]
        write_outcomes(self.token, taken)

    def renew(self) -> None:
        """The rows stay this batch's while it works, however slow the machine."""
        try:
            with database().begin() as session:
                store.renew_lease(session, self.token, self.clock(), self.config.lease_seconds)
        except (SQLAlchemyError, Unavailable) as exc:  # the next renewal tries again; at worst handed out twice
            log.warning("bill notice lease not renewed (%s)", exc.__class__.__name__)


def send_batch_job(token: str) -> None:
    """The job for one batch: its rows pushed at slots under the global rate, a few at a time in
    threads (``_push_at_slots``); outcomes are written every fraction of a second, so a batch of
    hundreds costs a handful of transactions and a few round trips to the rate limiter."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = settings(app)
    with database().begin() as session:
        targets = store.take_batch(session, token, clock.now(), config.lease_seconds)
    if not targets:
        return
    batch = _Batch(app, token, config, targets[0].billing_month)  # a claim holds one month's rows
    now = clock.now()
    sendable = []
    for target in targets:
        early = before_push(target, config, now)
        if early is None:
            sendable.append(target)
        else:
            batch.add(early)
    if sendable:
        _push_at_slots(batch, sendable)
    batch.flush()
    rate.refund(batch.month, batch.unused)


def _push_at_slots(batch: _Batch, sendable: list[store.NoticeTarget]) -> None:
    """Push the rows at slots of the global rate, never before their slot, writing the outcomes
    and renewing the lease as it goes; after a stop or a 429 the rest are held back.

    Slots are taken for as many rows as there are idle threads, in one round trip (the stop flag
    and the quota budget with them), so the batches of all workers take turns in short windows
    and each worker sends its share; threads are started only while all are busy, up to
    ``NOTICE_CONCURRENCY``. A row that could not be handed out within ``LATE_SECONDS`` of its
    slot (the machine stalled) does not go at once with the rows behind it: the rest of those
    slots are given back and taken anew, so a late batch never bursts past the rate."""
    threads = min(batch.config.concurrency, len(sendable))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notice") as pool:
        _Pacer(batch, sendable, pool, threads).run()


def _check(finished: set[Future]) -> None:
    for future in finished:
        if future.exception() is not None:  # the row stays leased; a later dispatch hands it out
            log.error("bill notice not sent (%s); it will be handed out again", future.exception().__class__.__name__)


class _Pacer:
    """One batch's rows on their way to its threads: ``waiting`` (no slot yet), ``slotted`` (a slot
    taken, not handed out yet; both with the next one last) and ``futures`` (with a thread)."""

    def __init__(self, batch: _Batch, sendable: list[store.NoticeTarget], pool: ThreadPoolExecutor,
                 threads: int) -> None:
        self.batch, self.pool, self.threads = batch, pool, threads
        self.renew_every = batch.config.lease_seconds / 3
        self.renewed = self.next_flush = time.monotonic()
        self.waiting = list(reversed(sendable))
        self.slotted: list[tuple[float, store.NoticeTarget]] = []
        self.futures: set[Future] = set()

    def run(self) -> None:
        """Until every row is pushed, held back or released."""
        while self.waiting or self.slotted or self.futures:
            self.take_slots()
            now = time.monotonic()
            if self.came_too_late(now):
                continue
            self.hand_out(now)
            if self.batch.halted:
                self.hold_back()
            if now >= self.next_flush:
                self.flush(now)
            self.pause()

    def take_slots(self) -> None:
        """Slots for as many waiting rows as there are idle threads, once the last slots are used;
        when the run's budget grants fewer, the rest are released (the month is stopped)."""
        batch, waiting = self.batch, self.waiting
        idle = self.threads - batch.in_flight - len(self.slotted)
        if not waiting or self.slotted or idle <= 0 or batch.halted:
            return
        wanted = min(idle, len(waiting))
        slots = rate.reserve_slots(batch.month, wanted, batch.config.rate)
        if slots.stopped:
            batch.halted = batch.halted or "stop"
        elif slots.count < wanted:  # this run's share of the quota is spent
            rate.stop(batch.month, rate.BUDGET)
            now = clock.now()
            for target in waiting[:len(waiting) - slots.count]:
                batch.add(Outcome("release", target.delivery_id, now))
            del waiting[:len(waiting) - slots.count]
        first = time.monotonic() + slots.delay
        self.slotted = [(first + n * slots.interval, waiting.pop()) for n in range(slots.count)]
        self.slotted.reverse()  # the next one last

    def came_too_late(self, now: float) -> bool:
        """The next row missed its slot by more than ``LATE_SECONDS``: give the slots back and take
        new ones rather than burst."""
        if not self.slotted or now - self.slotted[-1][0] <= LATE_SECONDS or self.batch.halted:
            return False
        rate.refund(self.batch.month, len(self.slotted))  # too late for these slots: take new ones
        self.waiting.extend(target for _slot, target in self.slotted)
        self.slotted = []
        return True

    def hand_out(self, now: float) -> None:
        """Each row whose slot has come to a thread."""
        batch = self.batch
        while self.slotted and self.slotted[-1][0] <= now and not batch.halted:
            with batch.lock:
                batch.in_flight += 1
            self.futures.add(self.pool.submit(batch.push, self.slotted.pop()[1]))

    def hold_back(self) -> None:
        """After a stop or a 429: the slotted rows held (their slots given back at the end), the
        waiting ones released."""
        for _slot, target in reversed(self.slotted):
            self.batch.hold(target)  # slots paid for: given back at the end
        now_tokyo = clock.now()
        for target in reversed(self.waiting):
            self.batch.add(Outcome("release", target.delivery_id, now_tokyo))
        self.slotted, self.waiting = [], []

    def flush(self, now: float) -> None:
        """Write the outcomes so far; renew the lease every third of it."""
        finished = {future for future in self.futures if future.done()}
        _check(finished)
        self.futures -= finished
        self.batch.flush()
        if now - self.renewed >= self.renew_every:
            self.batch.renew()
            self.renewed = now
        self.next_flush = now + min(FLUSH_SECONDS, self.renew_every)

    def pause(self) -> None:
        """Until the next slot or flush; with no row slotted, until a thread comes back from LINE."""
        if self.slotted:  # rows are handed out a tick's worth at a time: fewer wake-ups
            time.sleep(max(SLOT_TICK, min(self.next_flush, self.slotted[-1][0]) - time.monotonic()))
        elif self.futures:  # rows left: until a thread comes back from LINE; none: until all have
            finished, self.futures = wait(self.futures, timeout=max(0.0, self.next_flush - time.monotonic()),
                                          return_when=FIRST_COMPLETED if self.waiting else ALL_COMPLETED)
            _check(finished)
