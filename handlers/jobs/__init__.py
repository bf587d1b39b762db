"""The job queue's API (mail, pushes, …): RQ on Redis, or a thread pool in the web process under ``make run``.

This layer knows no job bodies. Each edge owns its jobs (module-level functions with
JSON-safe keyword arguments, run inside the app context) and queues them by reference,
``jobs.enqueue(func, **kwargs)``. Edges meet through effects: an edge registers the job that
performs a ``bot.types`` effect (the factory's table, ``register_effects``) and any
other edge asks for it with the effect itself (``jobs.perform(PushReplies(user_id, replies))``),
so no edge imports another or names a job of another by a string.
With a real Redis they go to an RQ queue (``interactive`` or ``bulk``) with retries (``flask
--app app worker`` runs them); without one (``make run``), or with ``JOBS_INLINE=1``, a small thread
pool in the web process runs them with the same retry schedule.

The request id of the web request (or webhook) that queued a job goes with it
(``handlers.logs``), so the worker's log lines for that job carry the same id; every run
is counted in ``aicom_jobs_total{job,outcome}``. The RQ queue's depth, retries and failed
registry are read live by ``/metrics`` and ``flask --app app queues`` (``rq_queue_stats``);
``queues retry`` re-queues the failed jobs (``retry_failed``).

This package is what the edges call; the process that runs the queued jobs (``flask --app app
worker``) is ``handlers.jobs.worker``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from rq.job import Job
from rq.utils import import_attribute

from bot.types import fields_of
from handlers import logs, metrics
from storage.errors import ServiceError
from storage.keys import job_done_key

log = logging.getLogger(__name__)

JobTarget = Callable[..., None] | str

RETRY_INTERVALS = [10, 30, 120, 600, 1800]  # seconds; about 45 minutes in all
# Two queues: ``interactive`` (mail, a turn's pushes, staff relays: someone is waiting)
# and ``bulk`` (menu switches, bill notices, syncs); a worker always takes interactive work first.
# ``default`` is the one queue of earlier releases: still served, so nothing queued before is lost.
INTERACTIVE, BULK, LEGACY = "interactive", "bulk", "default"
QUEUES = (INTERACTIVE, LEGACY, BULK)
QUEUE_NAME = INTERACTIVE


def job_path(target: JobTarget) -> str:
    """``module:function`` for a job function (or the path itself): what the queue stores."""
    if isinstance(target, str):
        return target
    return f"{target.__module__}:{target.__qualname__}"


def resolve(path: str) -> Callable[..., None]:
    """The job function a path names (``module:function`` or ``module.function``)."""
    return import_attribute(path.replace(":", "."))  # type: ignore[return-value]


ONCE_SECONDS = 7 * 24 * 3600  # how long a job run with a ``once`` key is remembered


def _run_once(path: str, kwargs: dict, once: str | None) -> None:
    """Run the job; with ``once``, only if no earlier run with that key succeeded (a worker
    that takes over a half-finished turn queues its effects again: they must not run twice)."""
    if once is None:
        resolve(path)(**kwargs)
        return
    client = current_app.extensions["redis"]
    key = job_done_key(once)
    try:
        if client.exists(key):
            log.info("job %s already done; skipped", job_name(path))
            return
    except redis.RedisError:  # cannot tell: doing it (maybe twice) beats dropping it
        log.warning("job %s: could not check whether it already ran", job_name(path))
    resolve(path)(**kwargs)
    try:
        client.set(key, "1", ex=ONCE_SECONDS)
    except redis.RedisError:
        log.warning("job %s: could not remember that it ran", job_name(path))


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

    def submit(self, path: str, kwargs: dict, once: str | None = None) -> None:
        with self._lock:
            self.pending += 1
        self._start(path, kwargs, 0, once, logs.current_request_id())

    def submit_in(self, seconds: float, path: str, kwargs: dict) -> None:
        """Run a job after ``seconds`` (a timer, not a pool thread, waits meanwhile)."""
        with self._lock:
            self.pending += 1
        self._retry_later(seconds, path, kwargs, 0, None, logs.current_request_id())

    def shutdown(self, wait: bool = True) -> None:
        """Drop waiting retries and stop the pool (tests; a process that exits drops them anyway)."""
        with self._lock:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        self.pool.shutdown(wait=wait)

    def _start(self, path: str, kwargs: dict, attempt: int, once: str | None = None,
               request_id: str | None = None) -> None:
        try:
            self.pool.submit(self._run, path, kwargs, attempt, once, request_id)
        except RuntimeError:  # the pool was shut down: the process is going away
            log.warning("job %s dropped: shutting down", job_name(path))
            self._done()

    def _done(self) -> None:
        with self._lock:
            self.pending -= 1

    def _run(self, path: str, kwargs: dict, attempt: int, once: str | None = None,
             request_id: str | None = None) -> None:
        with logs.request_context(request_id):
            self._run_in_context(path, kwargs, attempt, once, request_id)

    def _run_in_context(self, path: str, kwargs: dict, attempt: int, once: str | None,
                        request_id: str | None) -> None:
        name = job_name(path)
        try:
            with self.app.app_context():
                _run_once(path, kwargs, once)
            metrics.JOBS.labels(name, "succeeded").inc()
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then logged
            metrics.JOBS.labels(name, "failed").inc()
            # The class name only: an SMTP or LINE error text may quote an address.
            if attempt >= len(self.intervals):
                log.error("job %s failed for good after %d attempts (%s)", name, attempt + 1,
                          exc.__class__.__name__)
                self._done()
                return
            delay = self.intervals[attempt]
            log.warning("job %s failed (attempt %d, %s); retrying in %ss", name, attempt + 1,
                        exc.__class__.__name__, delay)
            self._retry_later(delay, path, kwargs, attempt + 1, once, request_id)
            return
        self._done()

    def _retry_later(self, delay: float, path: str, kwargs: dict, attempt: int, once: str | None,
                     request_id: str | None) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            self._start(path, kwargs, attempt, once, request_id)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()


class JobFailed(ServiceError):
    """A job failed; it carries only the class names of the failure chain, never their texts."""


def failure_chain(exc: BaseException) -> str:
    """``MailError <- SMTPRecipientsRefused``: what failed, without the texts (they may quote addresses)."""
    names, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.append(current.__class__.__name__)
        current = current.__cause__ or current.__context__
    return " <- ".join(names)


def _rq_entry(path: str, kwargs: dict, request_id: str | None = None, once: str | None = None) -> None:
    """What RQ runs: look the job function up by its path (the worker has the app context),
    under the request id of the request that queued it.

    RQ logs a failed job's whole traceback, texts and causes included, and an SMTP refusal
    quotes the recipient's address: re-raise a failure that names only the classes.
    """
    name = job_name(path)
    with logs.request_context(request_id):
        try:
            _run_once(path, kwargs, once)
        except Exception as exc:  # noqa: BLE001 - RQ retries whatever is raised
            metrics.JOBS.labels(name, "failed").inc()
            raise JobFailed(f"job {name} failed ({failure_chain(exc)})") from None
        metrics.JOBS.labels(name, "succeeded").inc()


def enqueue(target: JobTarget, _once: str | None = None, **kwargs) -> None:
    """Queue a job (a function, or its ``module:function`` path); it runs outside the current request.

    ``_once``: a key that makes the job run at most once however often it is queued.

    If the queue itself cannot be reached (Redis down just now), the work is done at once
    instead: slower for this one request, but what the customer asked for is not lost.
    """
    path = job_path(target)
    resolve(path)  # an unknown job is a bug: say so here, not in a worker later
    runner = current_app.extensions.get("job_runner")
    if runner is not None:
        runner.submit(path, kwargs, _once)
        return
    try:
        _enqueue_rq(path, kwargs, _once)
    except redis.RedisError as exc:
        log.warning("job queue unreachable (%s); running job %s now", exc.__class__.__name__, job_name(path))
        try:
            _run_once(path, kwargs, _once)
        except Exception as job_exc:  # noqa: BLE001 - logged by class only (texts may quote addresses)
            log.error("job %s failed and could not be queued (%s)", job_name(path), job_exc.__class__.__name__)


def enqueue_in(seconds: float, target: JobTarget, **kwargs) -> None:
    """Queue a job to run after ``seconds`` (RQ's scheduler, which ``flask worker`` runs; a timer inline).

    A delayed job that cannot be queued (Redis down) is not run early: it is dropped with a warning,
    so its body must cope with never running (a courtesy reminder, not a promise).
    """
    path = job_path(target)
    resolve(path)
    runner = current_app.extensions.get("job_runner")
    if runner is not None:
        runner.submit_in(seconds, path, kwargs)
        return
    try:
        _enqueue_rq(path, kwargs, delay=timedelta(seconds=max(seconds, 0)))
    except redis.RedisError as exc:
        log.warning("job queue unreachable (%s); delayed job %s dropped", exc.__class__.__name__, job_name(path))


def bulk(app: Flask, target: JobTarget) -> None:
    """An edge says a job of its is bulk work (menu switches, notices): it waits behind interactive work."""
    app.extensions.setdefault("bulk_jobs", set()).add(job_path(target))


def queue_of(path: str) -> str:
    """The queue a job goes to: ``bulk`` when its edge said so, else ``interactive``."""
    return BULK if path in current_app.extensions.get("bulk_jobs", ()) else INTERACTIVE


def _enqueue_rq(path: str, kwargs: dict, once: str | None = None, delay: timedelta | None = None) -> None:
    queue = Queue(queue_of(path), connection=current_app.extensions["redis"])
    # RQ logs a job's description: ours names the job, never its arguments (addresses, links).
    # A job that failed for good is kept a day: long enough to look at, no longer than its links live.
    options = {"retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
               "description": f"job:{job_name(path)}", "failure_ttl": 24 * 3600}
    args = (_rq_entry, path, kwargs, logs.current_request_id(), once)
    if delay is not None:
        queue.enqueue_in(delay, *args, **options)
    else:
        queue.enqueue(*args, **options)


def register_effects(app: Flask, table: dict[type, JobTarget]) -> None:
    """The factory's one table of which edge's job performs each ``bot.types`` effect: the job gets
    the effect's fields as keyword arguments. This is how edges meet: another edge (or the worker
    that ran a turn) calls ``perform`` with the effect, never a job path into that edge."""
    app.extensions["effect_jobs"] = {effect_type: job_path(target) for effect_type, target in table.items()}


def perform(effect: object, once: str | None = None) -> None:
    """Queue the job an edge registered for ``effect``'s type, its fields as arguments
    (``once``: see ``enqueue``)."""
    target = current_app.extensions.get("effect_jobs", {}).get(type(effect))
    if target is None:
        raise KeyError(f"no job registered for effect {type(effect).__name__}")
    enqueue(target, _once=once, **fields_of(effect))


def register_periodic(app: Flask, target: JobTarget, every_seconds: float) -> None:
    """An edge asks for a function to be called every ``every_seconds`` by each running worker
    (``flask --app app worker``, not ``--burst``), inside the app context. The function must be
    safe to run on several workers at once (take a Redis lock where that matters)."""
    app.extensions.setdefault("periodic_jobs", []).append((job_path(target), every_seconds))


def register_worker_service(app: Flask, name: str, start: Callable[[Flask, int], Callable[[], None]],
                            drain: Callable[[Flask], int] | None = None) -> None:
    """An edge adds work for ``flask --app app worker`` (the LINE edge: its event consumers).

    ``start(app, threads)`` starts it in background threads and returns the function that
    stops it (finishing the work in hand); ``drain(app)`` does what is waiting now (``--burst``).
    """
    app.extensions.setdefault("worker_services", []).append((name, start, drain))


# -- the operator's view of the RQ queue ----------------------------------------------------------
_FAILURE_RE = re.compile(r"JobFailed: job (?P<job>\S+) failed \((?P<chain>[^)]*)\)")
FAILURE_DETAIL_LIMIT = 1000  # failed jobs looked at for the class names (the count is exact)


def failure_summary(exc_string: str | None) -> str:
    """``send_mail_job: MailError <- ConnectionRefusedError`` from a failed job's stored traceback
    (our ``JobFailed`` carries class names only; anything else by its exception class)."""
    if not exc_string:
        return "unknown"
    matches = list(_FAILURE_RE.finditer(exc_string))
    if matches:
        return f"{matches[-1]['job']}: {matches[-1]['chain']}"
    last = exc_string.strip().splitlines()[-1] if exc_string.strip() else ""
    return last.split(":", 1)[0].strip() or "unknown"


def rq_queue_stats(app: Flask, detail: bool = False) -> list[metrics.QueueStat]:
    """Each RQ queue now: waiting, running, scheduled (retries), failed (and why, with ``detail``),
    and the age of its oldest waiting job."""
    return [_queue_stat(app, name, detail) for name in QUEUES]


def _queue_stat(app: Flask, name: str, detail: bool) -> metrics.QueueStat:
    connection = app.extensions["redis"]
    queue = Queue(name, connection=connection)
    oldest_age = None
    first = queue.get_job_ids(0, 0)
    if first:
        try:
            enqueued_at = Job.fetch(first[0], connection=connection).enqueued_at
        except Exception:  # noqa: BLE001 - taken by a worker and gone between the two reads
            enqueued_at = None
        if enqueued_at is not None:
            if enqueued_at.tzinfo is None:  # RQ stores UTC
                enqueued_at = enqueued_at.replace(tzinfo=UTC)
            oldest_age = max(time.time() - enqueued_at.timestamp(), 0.0)
    failed_registry = queue.failed_job_registry
    failures: Counter[str] = Counter()
    if detail:
        for job_id in failed_registry.get_job_ids(0, FAILURE_DETAIL_LIMIT - 1):
            try:
                job = Job.fetch(job_id, connection=connection)
                result = job.latest_result()
                failures[failure_summary(result.exc_string if result is not None else None)] += 1
            except Exception:  # noqa: BLE001 - an expired job between the two reads
                failures["unknown"] += 1
    return metrics.QueueStat(
        queue="rq", partition=name, depth=queue.count, pending=queue.started_job_registry.count,
        oldest_age_seconds=oldest_age, failed=failed_registry.count,
        scheduled=queue.scheduled_job_registry.count, failures=dict(failures))


def retry_failed(app: Flask) -> int:
    """Put every job of RQ's failed registries back on its queue (with a fresh retry schedule); how many."""
    count = 0
    for name in QUEUES:
        registry = Queue(name, connection=app.extensions["redis"]).failed_job_registry
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
                count += 1
            except Exception as exc:  # noqa: BLE001 - expired meanwhile: nothing to retry
                log.info("failed job not re-queued (%s)", exc.__class__.__name__)
    return count



def init_app(app: Flask) -> None:
    """Choose inline or RQ; with RQ, register the queues' probe for /metrics and ``queues``."""
    if app.config.get("JOBS_INLINE") or not app.config.get("REDIS_URL"):
        app.extensions["job_runner"] = InlineRunner(app, app.config.get("JOB_RETRY_INTERVALS"))
    else:
        metrics.register_queue_probe(app, "rq", lambda detail: rq_queue_stats(app, detail),
                                     lambda: retry_failed(app))
