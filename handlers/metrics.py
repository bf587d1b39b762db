"""Every Prometheus metric of the service, defined once with stable names; shared by every edge.

Edges import this module and count (``metrics.PUSHES.labels("sent").inc()``); the
conversation (``bot/``) never does: a step calls ``turn.signal("registration_started")``
and the edge that ran the turn calls ``metrics.count_signals(outcome.signals)``.
``GET /metrics`` (``handlers.ops``) renders them.

Multi-process: with ``PROMETHEUS_MULTIPROC_DIR`` set *before this module is first
imported* (gunicorn's config file, the worker's environment), prometheus-client keeps
each process's values in files there and ``/metrics`` adds them up; gunicorn's
``child_exit`` hook (``gunicorn.conf.py``) calls ``mark_process_dead``. Without it, each
process has its own values (``make run``: one process, the default registry).

Live values (queue depths, oldest entry's age) are read from Redis at scrape time by
``LiveCollector``: the RQ job queue here, and any queue an edge registers with
``register_queue_probe`` (the LINE event streams ``bot:events:<partition>``), so this
module imports no edge. Every name and label value below is fixed by code, never by
what a customer typed (bounded label sets).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

PREFIX = "aicom"

# -- the LINE webhook and the event path (the LINE edge counts these) ----------------------------
WEBHOOK_SECONDS = Histogram(
    f"{PREFIX}_webhook_request_seconds", "Time to answer POST /callback, by HTTP status.", ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0))
EVENTS = Counter(f"{PREFIX}_line_events", "LINE webhook events received, by type (message:text, follow, ...).",
                 ["type"])
TURN_SECONDS = Histogram(
    f"{PREFIX}_turn_seconds", "From the event's LINE timestamp to the answer handed to LINE, by event kind.",
    ["kind"], buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0))
REPLIES = Counter(f"{PREFIX}_line_replies", "Reply API calls (free of quota), by outcome: sent, refused, failed.",
                  ["outcome"])
PUSHES = Counter(
    f"{PREFIX}_line_pushes",
    "Push API calls (count against the monthly quota when sent), by outcome: sent, duplicate, refused, "
    "quota, failed; expired: a push that waited a day for LINE, dropped without a call.", ["outcome"])
PUSH_MESSAGES = Counter(f"{PREFIX}_line_push_messages", "Messages delivered by push (what LINE counts "
                        "against the monthly quota).")

# -- the conversation (from turn signals) ------------------------------------------------------
VERIFICATION_FAILURES = Counter(f"{PREFIX}_verification_failures",
                                "Registration verifications that did not match the customer record.")
LOCKOUTS = Counter(f"{PREFIX}_verification_lockouts", "Verification refusals started, by scope: user, number.",
                   ["scope"])
REGISTRATIONS = Counter(f"{PREFIX}_registrations", "Registrations by stage: started, provisional, completed.",
                        ["stage"])
HANDOFFS = Counter(f"{PREFIX}_handoffs", "Staff handoffs by event: opened, closed.", ["event"])
FIRST_STAFF_REPLY_SECONDS = Histogram(
    f"{PREFIX}_handoff_first_staff_reply_seconds", "From a handoff opening to staff's first reply in its thread.",
    buckets=(30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400))
UNDERSTANDING = Counter(f"{PREFIX}_understanding", "Free text read by the bot, by outcome: answered (an intent or "
                        "an FAQ entry), asked_back (not understood, near FAQ questions offered), not_understood.",
                        ["outcome"])
SIGNALS = Counter(f"{PREFIX}_conversation_signals", "Turn signals with no metric of their own, by name.",
                  ["signal"])

# -- notices, mail, jobs, the web --------------------------------------------------------------
NOTICES = Counter(f"{PREFIX}_notices", "Monthly bill notices by outcome: sent, failed, skipped.", ["outcome"])
MAILS = Counter(f"{PREFIX}_mails", "Mails by outcome: sent (an SMTP server accepted it), failed, dev_mailbox "
                "(kept in the emulator's mailbox).",
                ["outcome"])
JOBS = Counter(f"{PREFIX}_jobs", "Background job runs by job name and outcome: succeeded, failed.",
               ["job", "outcome"])
WEB_LOGINS = Counter(f"{PREFIX}_web_logins", "My Page logins by outcome: ok, failed, throttled.", ["outcome"])
WITHDRAWALS = Counter(f"{PREFIX}_withdrawals", "My Page accounts deleted by their owner (退会).")

# Signal names (``Turn.signal``) with a metric of their own; any other name is counted in SIGNALS.
_SIGNAL_COUNTERS: dict[str, Callable[[], None]] = {
    "verification_failed": VERIFICATION_FAILURES.inc,
    "lockout_user": LOCKOUTS.labels("user").inc,
    "lockout_number": LOCKOUTS.labels("number").inc,
    "registration_started": REGISTRATIONS.labels("started").inc,
    "registration_provisional": REGISTRATIONS.labels("provisional").inc,
    "registration_completed": REGISTRATIONS.labels("completed").inc,
    "handoff_opened": HANDOFFS.labels("opened").inc,
    "handoff_closed": HANDOFFS.labels("closed").inc,
    "understanding_answered": UNDERSTANDING.labels("answered").inc,
    "understanding_asked_back": UNDERSTANDING.labels("asked_back").inc,
    "understanding_not_understood": UNDERSTANDING.labels("not_understood").inc,
}
SIGNAL_NAMES = frozenset(_SIGNAL_COUNTERS)


def count_signals(signals: Iterable[str]) -> None:
    """Count a turn's signals (``Outcome.signals``); the edge that ran the turn calls it after the commit."""
    for name in signals:
        counter = _SIGNAL_COUNTERS.get(name)
        if counter is not None:
            counter()
        else:
            SIGNALS.labels(name[:60]).inc()


_EVENT_TYPES = frozenset({
    "message", "follow", "unfollow", "postback", "join", "leave", "memberJoined", "memberLeft", "accountLink",
    "things", "unsend", "videoPlayComplete", "beacon", "activated", "deactivated", "botSuspended", "botResumed",
    "module", "membership"})
_MESSAGE_TYPES = frozenset({"text", "image", "video", "audio", "file", "location", "sticker"})


def count_event(event_type: str, message_type: str | None = None) -> None:
    """One webhook event: ``message:text``, ``follow``, …; anything LINE adds later is ``other``."""
    label = event_type if event_type in _EVENT_TYPES else "other"
    if label == "message":
        label = f"message:{message_type if message_type in _MESSAGE_TYPES else 'other'}"
    EVENTS.labels(label).inc()


def count_reply(outcome: str) -> None:
    """A reply API call: ``sent``, ``refused`` (LINE said no: expired token, redelivery) or ``failed`` (network)."""
    REPLIES.labels(outcome).inc()


def count_push(outcome: str, messages: int = 0) -> None:
    """A push API call: ``sent`` (``messages`` count against the quota), ``duplicate`` (409, retry key
    seen), ``refused`` (400), ``quota`` (429 monthly limit) or ``failed`` (retried); ``expired``: a
    push that waited a day for LINE, dropped without a call."""
    PUSHES.labels(outcome).inc()
    if outcome == "sent" and messages:
        PUSH_MESSAGES.inc(messages)


def observe_turn(kind: str, event_timestamp_ms: int | None, now: float | None = None) -> None:
    """Turn latency: from LINE's event ``timestamp`` (milliseconds) to now (the answer went out)."""
    if not event_timestamp_ms:
        return
    elapsed = (now if now is not None else time.time()) - event_timestamp_ms / 1000
    TURN_SECONDS.labels(kind).observe(max(elapsed, 0.0))


# -- queues, read live at scrape time ----------------------------------------------------------
@dataclass(frozen=True)
class QueueStat:
    """One queue (partition) at this moment, as a probe reports it."""

    queue: str  # "line_events", "rq"
    partition: str  # "0", "default"
    depth: int  # waiting, not yet taken by a worker
    pending: int = 0  # taken by a worker, not yet done (a stream's pending list, RQ's started jobs)
    oldest_age_seconds: float | None = None  # age of the oldest waiting entry
    failed: int = 0  # given up on (RQ's failed registry, a dead-letter stream)
    scheduled: int = 0  # waiting for a later time (RQ's retries)
    failures: dict[str, int] = field(default_factory=dict)  # failure class names -> count (operator view)


QueueProbe = Callable[[bool], Iterable[QueueStat]]  # probe(detail): detail=True fills ``failures``
QueueRetry = Callable[[], int]


def register_queue_probe(app, name: str, probe: QueueProbe, retry: QueueRetry | None = None) -> None:
    """An edge registers a function that reads its queues (``QueueStat`` values) from Redis.

    ``/metrics`` calls ``probe(False)`` on each scrape (keep it to a few Redis calls);
    ``flask --app app queues`` calls ``probe(True)`` (fill ``failures`` too); ``queues retry``
    calls ``retry()``, which returns how many entries it put back (e.g. the LINE edge
    re-queues its streams' stale pending entries). Called from the edge's ``init_app``.
    """
    app.extensions.setdefault("queue_probes", {})[name] = (probe, retry)


def queue_probes(app) -> dict[str, tuple[QueueProbe, QueueRetry | None]]:
    """The registered queue probes by name (the RQ one included, registered by ``handlers.jobs``)."""
    return dict(app.extensions.get("queue_probes", {}))


def read_queues(app, detail: bool = False) -> list[QueueStat]:
    """Every registered probe's values now; a probe that fails is logged (class only) and skipped."""
    out: list[QueueStat] = []
    for name, (probe, _retry) in queue_probes(app).items():
        try:
            out.extend(probe(detail))
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because one queue cannot be read
            log.warning("queue probe %s failed (%s)", name, exc.__class__.__name__)
            QUEUE_PROBE_ERRORS.labels(name).inc()
    return out


QUEUE_PROBE_ERRORS = Counter(f"{PREFIX}_queue_probe_errors", "Queue probes that failed at scrape time.", ["probe"])


def _stream_id_ms(entry_id) -> int | None:
    """The millisecond timestamp of a stream entry id (``1764600000000-0``)."""
    if entry_id is None:
        return None
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    head = text.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def stream_stats(client, key: str, group: str, queue: str, partition: str, now: float | None = None) -> QueueStat:
    """A Redis stream read by a consumer group, as a ``QueueStat`` (three or four Redis calls).

    ``depth`` is the group's lag (entries not yet delivered to any consumer), ``pending`` its
    pending list (delivered, not acknowledged), ``oldest_age_seconds`` the age of the oldest
    entry not yet acknowledged (pending or waiting), from the entry id's timestamp. For
    the LINE edge's ``bot:events:<partition>`` streams::

        metrics.register_queue_probe(app, "line_events", lambda detail: [
            metrics.stream_stats(redis, stream_key(p), "workers", "line_events", str(p))
            for p in range(partitions)])
    """
    now = time.time() if now is None else now
    try:
        groups = client.xinfo_groups(key)
    except Exception:  # noqa: BLE001 - no stream yet (nothing ever queued): an empty queue
        return QueueStat(queue, partition, depth=0)
    info = next((g for g in groups if (g.get("name") or b"") in (group, group.encode())), None)
    if info is None:
        return QueueStat(queue, partition, depth=int(client.xlen(key)))
    pending = int(info.get("pending") or 0)
    lag = info.get("lag")
    last_id = info.get("last-delivered-id") or b"0-0"
    oldest: list[int] = []
    if pending:
        summary = client.xpending(key, group)
        first = _stream_id_ms(summary.get("min"))
        if first is not None:
            oldest.append(first)
    waiting = client.xrange(key, min=b"(" + (last_id if isinstance(last_id, bytes) else last_id.encode()),
                            max="+", count=1)
    if waiting:
        first = _stream_id_ms(waiting[0][0])
        if first is not None:
            oldest.append(first)
    if lag is None:  # Redis before 7 (or an unknown lag): count what follows the last delivered id
        lag = len(client.xrange(key, min=b"(" + (last_id if isinstance(last_id, bytes) else last_id.encode()),
                                max="+", count=10000))
    age = max(now - min(oldest) / 1000, 0.0) if oldest else None
    return QueueStat(queue, partition, depth=int(lag), pending=pending, oldest_age_seconds=age)


class LiveCollector:
    """Gauges computed at scrape time from the registered queue probes (no per-process state)."""

    def __init__(self, app) -> None:
        self.app = app

    def collect(self):
        depth = GaugeMetricFamily(f"{PREFIX}_queue_depth", "Entries waiting in a queue.",
                                  labels=["queue", "partition"])
        pending = GaugeMetricFamily(f"{PREFIX}_queue_pending", "Entries taken by a worker and not yet done.",
                                    labels=["queue", "partition"])
        age = GaugeMetricFamily(f"{PREFIX}_queue_oldest_age_seconds", "Age of the oldest waiting entry.",
                                labels=["queue", "partition"])
        failed = GaugeMetricFamily(f"{PREFIX}_queue_failed", "Entries given up on (failed registry).",
                                   labels=["queue", "partition"])
        scheduled = GaugeMetricFamily(f"{PREFIX}_queue_scheduled", "Entries waiting for a later time (retries).",
                                      labels=["queue", "partition"])
        for stat in read_queues(self.app):
            labels = [stat.queue, stat.partition]
            depth.add_metric(labels, stat.depth)
            pending.add_metric(labels, stat.pending)
            failed.add_metric(labels, stat.failed)
            scheduled.add_metric(labels, stat.scheduled)
            age.add_metric(labels, stat.oldest_age_seconds or 0.0)
        yield from (depth, pending, age, failed, scheduled)


class _DefaultRegistry:
    """The process's own registry as a collector (one process: no multiprocess directory)."""

    def collect(self):
        return REGISTRY.collect()


def render(app) -> tuple[bytes, str]:
    """The Prometheus text exposition: every process's metrics plus the live queue gauges."""
    return generate_latest(scrape_registry(app)), CONTENT_TYPE_LATEST


def serve_on_loopback(app, port: int) -> None:
    """Serve the same exposition on ``127.0.0.1:port`` from a background thread (``flask worker
    --metrics-port``: a worker-only host, scraped by a Prometheus agent on that host)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr="127.0.0.1", registry=scrape_registry(app))


def scrape_registry(app) -> CollectorRegistry:
    """A registry of every process's metrics (multi-process files, or this process's) and the live gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistry())
    registry.register(LiveCollector(app))
    return registry


def mark_process_dead(pid: int) -> None:
    """gunicorn's ``child_exit`` hook: drop a dead worker's live-gauge files (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
