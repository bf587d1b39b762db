"""The worker process (``flask --app app worker``): the RQ job worker beside the edges' services.

``handlers.jobs`` is what the edges call to queue work; this module runs it. ``serve`` starts
the services the edges registered (``jobs.register_worker_service``: the LINE event consumers)
and the RQ worker (``run_worker``) on the queues of ``handlers.jobs``, interactive first, with
the periodic calls the edges registered (``jobs.register_periodic``). Redis unreachable, at start
or later: one line saying so (RQ's own outage tracebacks are cut to one line too), retries with
backoff, and the work carries on once it is back. SIGTERM: a warm shutdown.
"""

from __future__ import annotations

import logging
import threading
import time

import click
import redis
from flask import Flask
from rq import Queue, SimpleWorker

from handlers.jobs import QUEUES, failure_chain, job_name, resolve
from storage.redis_url import connect

log = logging.getLogger(__name__)


def _run_periodic(app: Flask, stop: threading.Event) -> None:
    """The worker's periodic calls, on a daemon thread beside the RQ worker."""
    due = {path: 0.0 for path, _every in app.extensions.get("periodic_jobs", [])}
    while not stop.wait(1.0):
        for path, every in app.extensions.get("periodic_jobs", []):
            if time.monotonic() < due[path]:
                continue
            due[path] = time.monotonic() + every
            try:
                with app.app_context():
                    resolve(path)()
            except Exception as exc:  # noqa: BLE001 - logged by class; the next period tries again
                log.error("periodic %s failed (%s)", job_name(path), failure_chain(exc))


def _worker_connection(app: Flask) -> redis.Redis:
    """RQ's own connection: no read timeout, since it waits for jobs in a long blocking pop
    (with the app's 3 s timeout RQ would take the quiet for an outage and quit)."""
    url = app.config.get("REDIS_URL")
    if not url:
        return app.extensions["redis"]
    return connect(url, blocking=True)  # redis:// or redis+sentinel://, as every client of ours


class _BurstWorker(SimpleWorker):
    """A burst run (``worker --burst``, the tests' ``drain_jobs``) does not subscribe to RQ's
    command channel: it ends by itself, and RQ's teardown waits up to 1 s for that channel's
    listening thread (it often did: a burst of one mail took a second)."""

    def subscribe(self) -> None:
        pass


def run_worker(app: Flask, burst: bool = False) -> SimpleWorker:
    """Run the RQ worker in this process (no fork, so the app's engine is safe); returns it.
    A long-running worker also makes the periodic calls edges registered (``register_periodic``)."""
    connection = app.extensions["redis"] if burst else _worker_connection(app)
    # RQ takes from the first queue that has work: interactive before the rest, always.
    worker_class = _BurstWorker if burst else SimpleWorker  # no fork either way
    worker = worker_class([Queue(name, connection=connection) for name in QUEUES], connection=connection)
    stop = threading.Event()
    if not burst and app.extensions.get("periodic_jobs"):
        threading.Thread(target=_run_periodic, args=(app, stop), daemon=True, name="periodic").start()
    try:
        with app.app_context():
            worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()
        _close_connections(worker, None if connection is app.extensions["redis"] else connection)
    return worker


def _close_connections(worker: SimpleWorker, own: redis.Redis | None) -> None:
    """Close the sockets a finished worker leaves open: its scheduler's (RQ opens a pool of its
    own and leaves it to the garbage collector) and ``own``, the connection made for this run.
    The worker object outlives ``work`` (RQ's signal handlers hold it), and a long-running
    worker starts a new run after every Redis outage: without this each run leaks a socket."""
    scheduler = worker.scheduler
    if scheduler is not None and scheduler._connection is not None:  # RQ keeps no public handle
        scheduler._connection.connection_pool.disconnect()
    if own is not None:
        own.close()


def _wait_for_redis(app: Flask, stopping: threading.Event) -> None:
    """Block until Redis answers, saying once per outage (in one line) what is unreachable."""
    delays = [1, 2, 5, 10, 30]
    for attempt in range(1_000_000):
        try:
            app.extensions["redis"].ping()
            if attempt:
                click.echo("Redis answers again; carrying on.", err=True)
            return
        except redis.RedisError as exc:
            delay = delays[min(attempt, len(delays) - 1)]
            if attempt == 0 or delay == delays[-1] and attempt % 10 == 0:
                url = app.config.get("REDIS_URL") or ""
                scheme, _, rest = url.partition("://")
                where = f"{scheme}://{rest.rsplit('@', 1)[-1]}"  # never print a password
                click.echo(f"cannot reach Redis at {where} ({exc.__class__.__name__}); retrying every "
                           f"{delay}s", err=True)
            if stopping.wait(delay):
                return


class _RedisOutageInOneLine(logging.Filter):
    """RQ logs a Redis outage in its scheduler with a traceback of three chained exceptions (in
    the message, from ``traceback.format_exc()``); an outage is not a bug, so the record becomes
    one line naming the exception. RQ restarts its scheduler once Redis answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, redis.RedisError):
            record.msg = f"{record.getMessage()} ({exc.__class__.__name__}: Redis unreachable; RQ retries)"
            record.args, record.exc_info, record.exc_text = (), None, None
            return True
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "Traceback (most recent call last)" in a
                                                  for a in record.args):
            text = record.getMessage()
            last = text.strip().splitlines()[-1]
            if last.startswith("redis.exceptions."):
                first = text.splitlines()[0]
                record.msg, record.args = f"{first} ({last.split(':', 1)[0]}: Redis unreachable; RQ retries)", ()
        return True


def _quiet_rq_outages() -> None:
    for name in ("rq.scheduler", "rq.worker"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedisOutageInOneLine) for f in logger.filters):
            logger.addFilter(_RedisOutageInOneLine())


def serve(app: Flask, burst: bool = False, threads: int = 0) -> None:
    """``flask --app app worker``: the edges' services (LINE events) and the RQ job worker.

    Redis unreachable, at start or later: one line saying so, retries with backoff, and the
    work carries on once it is back. SIGTERM: a warm shutdown (RQ finishes the job in hand;
    the event consumers finish the turn in hand and leave the rest queued).
    """
    services = app.extensions.get("worker_services", [])
    if burst:
        for _name, _start, drain in services:
            if drain is not None:
                drain(app)
        run_worker(app, burst=True)
        return
    stopping = threading.Event()
    _quiet_rq_outages()
    _wait_for_redis(app, stopping)
    stops = [start(app, threads) for _name, start, _drain in services]
    try:
        while True:
            try:
                worker = run_worker(app)
                if worker._stop_requested or worker._shutdown_requested_date:  # SIGTERM/SIGINT: a warm shutdown
                    return
                log.error("job worker stopped (Redis went away); starting again once it answers")
            except redis.RedisError as exc:
                log.error("job worker lost Redis (%s)", exc.__class__.__name__)
            _wait_for_redis(app, stopping)
    finally:
        for stop in stops:
            stop()
