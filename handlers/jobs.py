"""The job queue (mail, pushes, …): RQ on Redis, or a thread pool in the web process under ``make run``.

This layer knows no job bodies. Each edge owns its jobs (module-level functions with
JSON-safe keyword arguments, run inside the app context) and queues them by reference,
``jobs.enqueue(func, **kwargs)``, or, from another edge, by dotted path
(``jobs.enqueue("handlers.line.delivery:push_job", …)``), so no edge imports another.
With a real Redis they go to the RQ queue ``default`` with retries (``flask --app app
worker`` runs them); without one (``make run``), or with ``JOBS_INLINE=1``, a small thread
pool in the web process runs them with the same retry schedule.
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
from rq.utils import import_attribute

log = logging.getLogger(__name__)

JobTarget = Callable[..., None] | str

RETRY_INTERVALS = [10, 30, 120, 600, 1800]  # seconds; about 45 minutes in all
QUEUE_NAME = "default"


def job_path(target: JobTarget) -> str:
    """``module:function`` for a job function (or the path itself): what the queue stores."""
    if isinstance(target, str):
        return target
    return f"{target.__module__}:{target.__qualname__}"


def resolve(path: str) -> Callable[..., None]:
    """The job function a path names (``module:function`` or ``module.function``)."""
    return import_attribute(path.replace(":", "."))  # type: ignore[return-value]


def job_name(path: str) -> str:
    """A job's short name for logs (the function name, never its arguments)."""
    return path.replace(":", ".").rsplit(".", 1)[-1]



class InlineRunner:
    """Runs jobs on a thread pool inside the web process, retrying like RQ would.

    A retry waits on a timer, not in a pool thread: a few failing jobs (SMTP down) must not
    hold every worker for the whole retry schedule, nor keep the process from exiting.
    """

    def __init__(self, app: Flask, intervals: list[int] | None = None) -> None:
        self.app = app
        self.intervals = RETRY_INTERVALS if intervals is None else intervals
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="job")
        self.pending = 0  # jobs not yet done for good (running, queued or waiting to retry)
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()

    def submit(self, path: str, kwargs: dict) -> None:
        with self._lock:
            self.pending += 1
        self._start(path, kwargs, 0)

    def shutdown(self, wait: bool = True) -> None:
        """Drop waiting retries and stop the pool (tests; a process that exits drops them anyway)."""
        with self._lock:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        self.pool.shutdown(wait=wait)

    def _start(self, path: str, kwargs: dict, attempt: int) -> None:
        try:
            self.pool.submit(self._run, path, kwargs, attempt)
        except RuntimeError:  # the pool was shut down: the process is going away
            log.warning("job %s dropped: shutting down", job_name(path))
            self._done()

    def _done(self) -> None:
        with self._lock:
            self.pending -= 1

    def _run(self, path: str, kwargs: dict, attempt: int) -> None:
        name = job_name(path)
        try:
            with self.app.app_context():
                resolve(path)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then logged
            # The class name only: an SMTP or LINE error text may quote an address.
            if attempt >= len(self.intervals):
                log.error("job %s failed for good after %d attempts (%s)", name, attempt + 1,
                          exc.__class__.__name__)
                self._done()
                return
            delay = self.intervals[attempt]
            log.warning("job %s failed (attempt %d, %s); retrying in %ss", name, attempt + 1,
                        exc.__class__.__name__, delay)
            self._retry_later(delay, path, kwargs, attempt + 1)
            return
        self._done()

    def _retry_later(self, delay: float, path: str, kwargs: dict, attempt: int) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            self._start(path, kwargs, attempt)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()


class JobFailed(Exception):
    """A job failed; it carries only the class names of the failure chain, never their texts."""


def _failure_chain(exc: BaseException) -> str:
    """``MailError <- SMTPRecipientsRefused``: what failed, without the texts (they may quote addresses)."""
    names, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.append(current.__class__.__name__)
        current = current.__cause__ or current.__context__
    return " <- ".join(names)


def _rq_entry(path: str, kwargs: dict) -> None:
    """What RQ runs: look the job function up by its path (the worker has the app context).

    RQ logs a failed job's whole traceback, texts and causes included, and an SMTP refusal
    quotes the recipient's address: re-raise a failure that names only the classes.
    """
    try:
        resolve(path)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - RQ retries whatever is raised
        raise JobFailed(f"job {job_name(path)} failed ({_failure_chain(exc)})") from None


def enqueue(target: JobTarget, **kwargs) -> None:
    """Queue a job (a function, or its ``module:function`` path); it runs outside the current request.

    If the queue itself cannot be reached (Redis down just now), the work is done at once
    instead: slower for this one request, but what the customer asked for is not lost.
    """
    path = job_path(target)
    func = resolve(path)  # an unknown job is a bug: say so here, not in a worker later
    runner = current_app.extensions.get("job_runner")
    if runner is not None:
        runner.submit(path, kwargs)
        return
    try:
        _enqueue_rq(path, kwargs)
    except redis.RedisError as exc:
        log.warning("job queue unreachable (%s); running job %s now", exc.__class__.__name__, job_name(path))
        try:
            func(**kwargs)
        except Exception as job_exc:  # noqa: BLE001 - logged by class only (texts may quote addresses)
            log.error("job %s failed and could not be queued (%s)", job_name(path), job_exc.__class__.__name__)


def _enqueue_rq(path: str, kwargs: dict) -> None:
    queue = Queue(QUEUE_NAME, connection=current_app.extensions["redis"])
    # RQ logs a job's description: ours names the job, never its arguments (addresses, links).
    # A job that failed for good is kept a day: long enough to look at, no longer than its links live.
    queue.enqueue(_rq_entry, path, kwargs, retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                  description=f"job:{job_name(path)}", failure_ttl=24 * 3600)


def register_effect(app: Flask, effect_type: str, target: JobTarget) -> None:
    """An edge says which of its jobs runs an effect (``bot.types`` class name): the job gets
    the effect's fields as keyword arguments. The worker that ran the turn queues it."""
    app.extensions.setdefault("effect_jobs", {})[effect_type] = job_path(target)


def enqueue_effect(effect_type: str, kwargs: dict) -> None:
    """Queue the job registered for an effect type."""
    target = current_app.extensions.get("effect_jobs", {}).get(effect_type)
    if target is None:
        raise KeyError(f"no job registered for effect {effect_type}")
    enqueue(target, **kwargs)


def register_periodic(app: Flask, target: JobTarget, every_seconds: float) -> None:
    """An edge asks for a function to be called every ``every_seconds`` by each running worker
    (``flask --app app worker``, not ``--burst``), inside the app context. The function must be
    safe to run on several workers at once (take a Redis lock where that matters)."""
    app.extensions.setdefault("periodic_jobs", []).append((job_path(target), every_seconds))


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
                log.error("periodic %s failed (%s)", job_name(path), _failure_chain(exc))


def run_worker(app: Flask, burst: bool = False) -> bool:
    """Run the RQ worker in this process (no fork, so the app's engine is safe); a long-running
    worker also makes the periodic calls edges registered (``register_periodic``)."""
    queue = Queue(QUEUE_NAME, connection=app.extensions["redis"])
    worker = SimpleWorker([queue], connection=app.extensions["redis"])
    stop = threading.Event()
    if not burst and app.extensions.get("periodic_jobs"):
        threading.Thread(target=_run_periodic, args=(app, stop), daemon=True, name="periodic").start()
    try:
        with app.app_context():
            return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()


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
