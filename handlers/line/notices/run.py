"""A month's run of bill notices: read the quota, start the run, hand its rows out as batch jobs,
and drive it to the end.

``start_run`` counts what the month needs (``storage.notices.month_overview``), reads the plan's
quota from LINE (``read_quota``), refuses a run it must not start (``RunRefused``), writes the
delivery rows before any push, sets the run's quota budget (``rate``) and marks the month active.
``dispatch`` claims due rows and queues one ``batch.send_batch_job`` per claim, one dispatcher at
a time across workers; ``drive`` (the ``notify-bills`` command) dispatches and works the queue
until nothing is queued, the run is stopped, or what is left waits for a later retry. The
schedule (``schedule.tick``) starts runs and keeps dispatching the active months.

Redis keys: ``bot:notices:active`` (months being sent) and per month ``…:dispatch`` (one
dispatcher at a time); the stop flag and the budget are ``rate``'s.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import click
from flask import current_app

from handlers import clock, jobs
from handlers.jobs import worker
from handlers.line.notices.batch import send_batch_job
from handlers.line.notices.config import database, redis_client, settings
from handlers.line.notices.rate import KEY_TTL, stop_reason
from storage import keys
from storage import notices as store
from storage.errors import Refused

log = logging.getLogger(__name__)

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(value: str) -> date:
    """``YYYY-MM`` (``--month``, and the active months' names in Redis) as the month's first day."""
    found = _MONTH.fullmatch(value.strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= 2099:
        raise click.BadParameter("give the billing month as YYYY-MM, e.g. 2026-11", param_hint="--month")
    return date(int(found.group(1)), int(found.group(2)), 1)


@dataclass(frozen=True)
class Quota:
    """The plan's monthly message quota as LINE reports it (``limit`` None: no limit)."""

    limit: int | None
    used: int

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


def read_quota() -> Quota:
    """``GET /v2/bot/message/quota`` and ``/quota/consumption`` through the SDK."""
    api = current_app.extensions["line_messaging_api"]
    quota = api.get_message_quota(_request_timeout=(2, 5))
    used = api.get_message_quota_consumption(_request_timeout=(2, 5)).total_usage
    return Quota(quota.value if quota.type == "limited" else None, int(used or 0))


class RunRefused(Refused):
    """A run that must not start (the quota cannot cover it, or cannot be read); says why."""


@dataclass(frozen=True)
class RunStart:
    """What a run found when it started."""

    overview: store.Overview
    quota: Quota
    sending: int  # notices this run may push (fewer than to_send with --partial)


def start_run(month: date, partial: bool = False, dry_run: bool = False, retry_failed: bool = False) -> RunStart:
    """Check the quota, write the month's delivery rows and mark the month active (not for a dry
    run). ``retry_failed``: the month's failed notices count as to send, and are queued again."""
    db = database()
    with db.begin() as session:
        overview = store.month_overview(session, month)
    retrying = overview.failed if retry_failed else 0
    overview.to_send, overview.failed = overview.to_send + retrying, overview.failed - retrying
    try:
        quota = read_quota()
    except Exception as exc:  # noqa: BLE001 - never start blind
        raise RunRefused(f"could not read the message quota from LINE ({exc.__class__.__name__}); nothing sent") \
            from None
    sending = overview.to_send if quota.left is None else min(overview.to_send, quota.left)
    start = RunStart(overview, quota, sending)
    if dry_run:
        return start
    if sending < overview.to_send and not partial:
        raise RunRefused(f"{overview.to_send:,} notices to send but only {quota.left:,} messages left of this "
                         f"month's quota ({quota.limit:,}, {quota.used:,} used); nothing sent. Run again when the "
                         f"quota allows, or without --whole-only to send {quota.left:,} now")
    with db.begin() as session:
        if retrying:
            store.requeue_failed(session, month)
        store.plan_month(session, month, clock.now())
    redis = redis_client()
    redis.delete(keys.notices_month_key(month, "stop"))
    if quota.left is None:
        redis.delete(keys.notices_month_key(month, "budget"))
    else:
        redis.set(keys.notices_month_key(month, "budget"), quota.left, ex=KEY_TTL)
    redis.sadd(keys.NOTICES_ACTIVE_KEY, f"{month:%Y-%m}")
    log.info("bill notices for %s: %d to send", f"{month:%Y-%m}", sending)
    return start


def dispatch(month: date) -> store.Pending:
    """Hand out the month's due rows as batch jobs (one dispatcher at a time across workers), no
    more than a lease's worth ahead of the rate, so queued batches do not outlive their leases."""
    config = settings()
    db = database()
    redis = redis_client()
    lock = keys.notices_month_key(month, "dispatch")
    if redis.set(lock, "1", nx=True, ex=60):
        try:
            with db.begin() as session:
                store.expire_retries(session, month, clock.now(), config.retry_window_seconds)
                in_flight = store.leased(session, month, clock.now())
            # Half a lease's worth of sending at the configured rate may be out at once.
            room = max(int(config.rate * config.lease_seconds / 2), config.batch_size) - in_flight
            handed = last_id = 0
            while handed < room and not stop_reason(month):
                with db.begin() as session:
                    token, count, last_id = store.claim_batch(session, month, clock.now(), config.batch_size,
                                                              config.lease_seconds, after_id=last_id)
                if not count:
                    break
                handed += count
                jobs.enqueue(send_batch_job, token=token)
        finally:
            redis.delete(lock)
    with db.begin() as session:
        return store.pending(session, month, clock.now())


def _work_queue() -> None:
    """Run the queued jobs here too (an in-process burst worker), or wait for the inline pool."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner = app.extensions.get("job_runner")
    if runner is None:
        worker.run_worker(app, burst=True)
        return
    while runner.pending:
        time.sleep(0.05)


def drive(month: date, on_progress: Callable[[], None] = lambda: None) -> store.Pending:
    """Send the month until nothing is queued, the run is stopped, or what is left waits longer
    than ``NOTICE_WAIT_SECONDS`` without progress (retries later on: the workers' tick takes those)."""
    config = settings()
    deadline = time.monotonic() + config.wait_seconds
    queued_before = None
    while True:
        dispatch(month)
        _work_queue()
        on_progress()
        with database().begin() as session:
            state = store.pending(session, month, clock.now())
        if not state.queued or stop_reason(month):
            if not state.queued:
                redis_client().srem(keys.NOTICES_ACTIVE_KEY, f"{month:%Y-%m}")
            return state
        if queued_before is None or state.queued < queued_before:  # progress: wait afresh
            deadline = time.monotonic() + config.wait_seconds
        queued_before = state.queued
        if state.next_due is None:
            continue
        wait = max((state.next_due - clock.now()).total_seconds(), 0.05)
        if time.monotonic() + wait > deadline:
            return state
        time.sleep(min(wait, 1.0))
