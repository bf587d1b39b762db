"""Background jobs (mail, pushes): RQ on Redis, or a thread in the web process under ``make run``.

Jobs are named functions in ``JOBS`` with JSON-safe arguments. With a real Redis they go
to the RQ queue ``default`` with retries (``flask --app app worker`` runs them); without
one (``make run``), or with ``JOBS_INLINE=1``, a small thread pool in the web process runs
them with the same retry schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import click
import redis
from flask import Flask, current_app
from flask.cli import with_appcontext
from rq import Queue, Retry, SimpleWorker

log = logging.getLogger(__name__)

RETRY_INTERVALS = [10, 30, 120, 600, 1800]  # seconds; about 45 minutes in all
QUEUE_NAME = "default"


def job_send_mail(to: str, subject: str, body: str) -> None:
    """Send a mail (raises to be retried)."""
    from handlers import mail

    mail.send(current_app.config, current_app.extensions["redis"], to, subject, body)


def job_push(user_id: str, messages: list[dict], retry_key: str) -> None:
    """Push LINE messages to one user; the retry key makes LINE drop a duplicate."""
    from handlers import line

    line.push_now(user_id, messages, retry_key)


JOBS: dict[str, Callable[..., None]] = {
    "send_mail": job_send_mail,
    "push": job_push,
}


class InlineRunner:
    """Runs jobs on a thread pool inside the web process, retrying like RQ would."""

    def __init__(self, app: Flask, intervals: list[int] | None = None) -> None:
        self.app = app
        self.intervals = RETRY_INTERVALS if intervals is None else intervals
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="job")
        self.pending = 0
        self._lock = threading.Lock()

    def submit(self, name: str, kwargs: dict) -> None:
        with self._lock:
            self.pending += 1
        self.pool.submit(self._run, name, kwargs)

    def _run(self, name: str, kwargs: dict) -> None:
        try:
            for attempt in range(len(self.intervals) + 1):
                try:
                    with self.app.app_context():
                        JOBS[name](**kwargs)
                    return
                except Exception as exc:  # noqa: BLE001 - any failure is retried, then logged
                    # The class name only: an SMTP or LINE error text may quote an address.
                    if attempt == len(self.intervals):
                        log.error("job %s failed for good after %d attempts (%s)", name, attempt + 1,
                                  exc.__class__.__name__)
                        return
                    log.warning("job %s failed (attempt %d, %s); retrying in %ss", name, attempt + 1,
                                exc.__class__.__name__, self.intervals[attempt])
                    time.sleep(self.intervals[attempt])
        finally:
            with self._lock:
                self.pending -= 1


def _rq_entry(name: str, kwargs: dict) -> None:
    """What RQ runs: look the job up by name (the worker has the app context)."""
    JOBS[name](**kwargs)


def enqueue(name: str, **kwargs) -> None:
    """Queue a job by name; it runs outside the current request.

    If the queue itself cannot be reached (Redis down just now), the work is done at once
    instead: slower for this one request, but what the customer asked for is not lost.
    """
    if name not in JOBS:
        raise KeyError(name)
    runner = current_app.extensions.get("job_runner")
    if runner is not None:
        runner.submit(name, kwargs)
        return
    try:
        _enqueue_rq(name, kwargs)
    except redis.RedisError as exc:
        log.warning("job queue unreachable (%s); running job %s now", exc.__class__.__name__, name)
        try:
            JOBS[name](**kwargs)
        except Exception as job_exc:  # noqa: BLE001 - logged by class only (texts may quote addresses)
            log.error("job %s failed and could not be queued (%s)", name, job_exc.__class__.__name__)


def _enqueue_rq(name: str, kwargs: dict) -> None:
    queue = Queue(QUEUE_NAME, connection=current_app.extensions["redis"])
    # RQ logs a job's description: ours names the job, never its arguments (addresses, links).
    # A job that failed for good is kept a day: long enough to look at, no longer than its links live.
    queue.enqueue(_rq_entry, name, kwargs, retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                  description=f"job:{name}", failure_ttl=24 * 3600)


def run_worker(app: Flask, burst: bool = False) -> bool:
    """Run the RQ worker in this process (no fork, so the app's engine is safe)."""
    queue = Queue(QUEUE_NAME, connection=app.extensions["redis"])
    worker = SimpleWorker([queue], connection=app.extensions["redis"])
    with app.app_context():
        return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")


def init_app(app: Flask) -> None:
    """Choose inline or RQ, and register ``flask worker``."""
    if app.config.get("JOBS_INLINE") or not app.config.get("REDIS_URL"):
        app.extensions["job_runner"] = InlineRunner(app, app.config.get("JOB_RETRY_INTERVALS"))
    app.cli.add_command(worker_command)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Run the queued jobs, then stop.")
def worker_command(burst: bool) -> None:
    """Run the background job worker (mail, pushes)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "job_runner" in app.extensions:
        raise click.ClickException("REDIS_URL is not set: jobs run inside the web process; no worker needed")
    run_worker(app, burst=burst)
