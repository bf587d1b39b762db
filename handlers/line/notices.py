"""Monthly bill notices: ``flask --app app notify-bills --month YYYY-MM [--dry-run] [--whole-only]``,
the batch jobs that push them, the global rate limit, the quota, and the monthly schedule.

How a run goes (``start_run``, then ``dispatch`` until nothing is queued):

1. Count in the database what the month needs (``storage.notices.month_overview``) and read the
   plan's quota from LINE (``GET /v2/bot/message/quota`` and ``/quota/consumption``). A run the
   quota cannot finish says so before it starts, sends what the quota allows and stops there; a
   later run completes the month (``--whole-only`` refuses such a run instead, sending nothing).
2. Write one delivery row per (account, month) *before* any push (``plan_month``; a unique
   constraint, so a re-run adds nothing).
3. Hand queued rows out in batches: each batch is a claim token with a lease on its rows (renewed
   while it works), and one RQ job (``send_batch_job``) that pushes them under the rate limit in
   Redis (``NOTICE_RATE_PER_SECOND``, across all workers and hosts): it takes slots for as many
   rows as it has idle threads (``NOTICE_CONCURRENCY`` at most) in one round trip, and hands each
   row to a thread at its slot, never before (a batch that falls behind its slots gives them back
   and takes new ones rather than burst). The batches of all workers take turns in short
   windows, so more workers on more hosts send faster. The notice is rendered once per month
   and due date and filled in per customer (``notice_template``); the bodies go out as bytes
   through the SDK client's connection pool; outcomes are written a batch at a time.
4. Each push carries ``X-Line-Retry-Key`` derived from its row, the same on every attempt: 409
   means LINE had already accepted it (sent). 5xx and timeouts are retried with backoff for less
   than the key's 24 hours, then marked failed for review. A 429 slows the whole run down; 429
   "You have reached your monthly limit." stops it at once (a stop flag every batch checks when
   it takes its slots; the batch that meets the refusal pushes none of its remaining rows), and
   a later run completes the month.

A run killed half-way leaves rows queued or leased: the next run (or a worker's tick) hands them
out again once the lease runs out, and the retry key turns a push that did get through into a 409.

The schedule: ``flask --app app worker`` calls ``tick`` every minute (``jobs.register_periodic``).
From ``NOTICE_HOUR`` (Asia/Tokyo) on, once the current month's statements are imported (some
exist, and none changed for ``NOTICE_IMPORT_QUIET_SECONDS``), the month's run starts by itself,
once: the rows in the database and a marker in Redis say it has started, across restarts.

Redis keys (all here): ``bot:notices:rate`` (the limiter's clock), ``bot:notices:slow`` (the
slow-down after a 429), ``bot:notices:active`` (months being sent), and per month
``bot:notices:<YYYY-MM>:stop`` (why it stopped), ``…:budget`` (quota left for this run),
``…:scheduled`` (the schedule started it), ``…:dispatch`` (one dispatcher at a time).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import click
import urllib3
import urllib3.connectionpool
from flask import Flask, current_app
from flask.cli import with_appcontext
from linebot.v3.messaging import PushMessageRequest
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from bot import messages
from bot.flows.notices import bill_notice
from handlers import jobs
from handlers.line.render import render_bill_notice
from storage import notices as store
from storage.bills import month_start
from storage.timezone import TOKYO

log = logging.getLogger(__name__)

MONTHLY_LIMIT = "You have reached your monthly limit."
KEY_TTL = 40 * 24 * 3600  # per-month keys outlive their month, no longer
DEFAULTS = {
    "NOTICE_RATE_PER_SECOND": 200,  # LINE allows 2,000 pushes a second per channel; stay well under
    "NOTICE_HOUR": 10,  # Asia/Tokyo hour from which the month's run may start by itself
    "NOTICE_BATCH_SIZE": 200,  # rows per batch job
    "NOTICE_CONCURRENCY": 64,  # pushes in flight per batch job at most (threads, started as the rate needs them)
    "NOTICE_LEASE_SECONDS": 300,  # how long a batch holds its rows before another may take them
    "NOTICE_RETRY_DELAYS": "10,60,300,1800,7200,21600",  # seconds between attempts after a 5xx/timeout
    "NOTICE_RETRY_WINDOW_SECONDS": 23 * 3600,  # LINE keeps a retry key 24 h; stop retrying before that
    "NOTICE_PUSH_TIMEOUT_SECONDS": 5,  # read timeout of one push
    "NOTICE_WAIT_SECONDS": 600,  # the command waits this long for due retries; the workers do the rest
    "NOTICE_IMPORT_QUIET_SECONDS": 1800,  # statements unchanged this long count as imported
}
_MONTH = re.compile(r"(\d{4})-(\d{2})")


# -- settings --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeSettings:
    """The ``NOTICE_*`` settings of one app."""

    rate: float
    hour: int
    batch_size: int
    concurrency: int
    lease_seconds: float
    retry_delays: tuple[float, ...]
    retry_window_seconds: float
    push_timeout: float
    wait_seconds: float
    import_quiet_seconds: float


def _setting(app: Flask, name: str):
    if name not in app.config:
        raw = os.environ.get(name, "").strip()
        app.config[name] = raw if raw else DEFAULTS[name]
    return app.config[name]


def settings(app: Flask | None = None) -> NoticeSettings:
    """The notice settings (environment, or app config in tests), checked once at start-up."""
    app = app or current_app
    cached = app.extensions.get("notice_settings")
    if cached is not None:
        return cached
    try:
        delays = _setting(app, "NOTICE_RETRY_DELAYS")
        if isinstance(delays, str):
            delays = [float(part) for part in delays.split(",") if part.strip()]
        value = NoticeSettings(
            rate=float(_setting(app, "NOTICE_RATE_PER_SECOND")), hour=int(_setting(app, "NOTICE_HOUR")),
            batch_size=int(_setting(app, "NOTICE_BATCH_SIZE")), concurrency=int(_setting(app, "NOTICE_CONCURRENCY")),
            lease_seconds=float(_setting(app, "NOTICE_LEASE_SECONDS")), retry_delays=tuple(float(d) for d in delays),
            retry_window_seconds=float(_setting(app, "NOTICE_RETRY_WINDOW_SECONDS")),
            push_timeout=float(_setting(app, "NOTICE_PUSH_TIMEOUT_SECONDS")),
            wait_seconds=float(_setting(app, "NOTICE_WAIT_SECONDS")),
            import_quiet_seconds=float(_setting(app, "NOTICE_IMPORT_QUIET_SECONDS")))
    except (TypeError, ValueError):
        raise click.ClickException("NOTICE_* settings must be numbers (NOTICE_RETRY_DELAYS: seconds, "
                                   "comma-separated)") from None
    if value.rate <= 0 or value.batch_size < 1 or value.concurrency < 1 or not 0 <= value.hour <= 23:
        raise click.ClickException("NOTICE_RATE_PER_SECOND, NOTICE_BATCH_SIZE and NOTICE_CONCURRENCY must be "
                                   "positive and NOTICE_HOUR 0-23")
    app.extensions["notice_settings"] = value
    return value


def _now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(TOKYO)


def _redis():
    return current_app.extensions["redis"]


def _db():
    return current_app.extensions["db"]


def _key(month: date, part: str) -> str:
    return f"bot:notices:{month:%Y-%m}:{part}"


ACTIVE_KEY = "bot:notices:active"
RATE_KEY = "bot:notices:rate"
SLOW_KEY = "bot:notices:slow"


# -- the global rate limit ---------------------------------------------------------------------
# GCRA on Redis's own clock, so every worker on every host shares one schedule. A batch takes its
# slots for as many rows as it has idle threads in one round trip (issue 22: it was four round
# trips a push); the script also says whether the month was stopped, takes the slots out of
# this run's quota budget (no budget key: no limit), and applies the slow-down after a 429.
# It returns the slots granted (fewer than asked when the budget runs out; 0 and a stop when
# the month was stopped), how long until the first, and the interval. A run stopped because its
# own budget ran out (``budget``) still grants what was given back to the budget: a batch whose
# slots came too late returns them and takes new ones for rows the budget had already paid for.
# LINE's own "monthly limit" (``quota``) stops everything.
_RESERVE_SCRIPT = """
local stop = redis.call('GET', KEYS[4])
if stop and stop ~= 'budget' then return {0, 0, '0', '0'} end
local slow = tonumber(redis.call('GET', KEYS[2]) or '1')
local interval = 1 / (tonumber(ARGV[1]) * slow)
local n = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  local left = tonumber(redis.call('GET', KEYS[3]))
  if left < n then n = math.max(left, 0) end
  if n > 0 then redis.call('DECRBY', KEYS[3], n) end
end
if n <= 0 then return {1, 0, '0', string.format('%.9f', interval)} end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], string.format('%.6f', tat + n * interval), 'EX', math.ceil(n * interval) + 60)
return {1, n, string.format('%.6f', tat - now), string.format('%.9f', interval)}
"""
# Give back quota budget that slots took but LINE never counted (refused, or never pushed).
_REFUND_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[1]) end
return 1
"""


@dataclass(frozen=True)
class Slots:
    """What the rate limiter granted one batch: ``count`` pushes, the first ``delay`` seconds from
    now, one every ``interval`` seconds after it; ``stopped``: the month's run was stopped."""

    count: int
    delay: float
    interval: float
    stopped: bool = False


def reserve_slots(month: date, wanted: int, rate: float) -> Slots:
    """One round trip for a run of pushes: the stop flag, the quota budget, the slow-down and the
    global rate's slots (``wanted`` of them, or fewer when the budget runs out)."""
    live, count, delay, interval = _redis().eval(_RESERVE_SCRIPT, 4, RATE_KEY, SLOW_KEY, _key(month, "budget"),
                                                 _key(month, "stop"), repr(rate), wanted)
    return Slots(int(count), float(delay), float(interval), stopped=not int(live))


def _refund(month: date, count: int) -> None:
    if count > 0:
        _redis().eval(_REFUND_SCRIPT, 1, _key(month, "budget"), count)


def _slow_down() -> None:
    """LINE said 429 (too many requests): halve the whole run's rate for the next 30 seconds."""
    redis = _redis()
    slow = max(float(redis.get(SLOW_KEY) or 1.0) / 2, 0.05)
    redis.set(SLOW_KEY, repr(slow), ex=30)


BUDGET = "budget"  # the stop reason when this run's share of the quota is spent (LINE's: ``quota``)


def stop_reason(month: date) -> str | None:
    """Why the month's run was stopped (``budget``, ``quota``, ``unauthorized``), or None."""
    value = _redis().get(_key(month, "stop"))
    return value.decode() if isinstance(value, bytes) else value


# The first reason stays, except that LINE's own refusal outranks a spent budget of ours.
_STOP_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current and (current ~= 'budget' or ARGV[1] == 'budget') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def _stop(month: date, reason: str) -> None:
    if _redis().eval(_STOP_SCRIPT, 1, _key(month, "stop"), reason, KEY_TTL):
        log.error("bill notices for %s stopped: %s", f"{month:%Y-%m}", reason)


# -- the notice, rendered once a month --------------------------------------------------------
_TOTAL_MARK = 918_273_645  # rendered in its place, then cut out: no bill is this large
_CHECK_TOTALS = (0, -550, 5_280, 1_234_567_890)  # fills compared with direct renders before use


def _message_json(month: date, total: int, due_date: date | None) -> str:
    """The notice's message as JSON text, rendered directly (what the template must equal)."""
    return json.dumps(render_bill_notice(bill_notice(month, total, due_date)))


@dataclass(frozen=True)
class NoticeTemplate:
    """One month's notice (for one due date) rendered once and cut where the total goes, so a
    customer's push body is a few joins instead of a render and the SDK's model round trip;
    ``parts`` None: the total changes more than its own text, so every notice is rendered."""

    billing_month: date
    due_date: date | None
    parts: tuple[str, ...] | None

    def message_json(self, total: int) -> str:
        """The notice's message for ``total`` as JSON text (``5,280円`` in both places it shows)."""
        if self.parts is None:
            return _message_json(self.billing_month, total, self.due_date)
        return json.dumps(messages.signed_yen(total))[1:-1].join(self.parts)

    def body(self, user_id: str, total: int) -> bytes:
        """The ``POST /v2/bot/message/push`` body for one customer, as the SDK would have sent it."""
        return (f'{{"to": {json.dumps(user_id)}, "messages": [{self.message_json(total)}], '
                f'"notificationDisabled": false}}').encode()


@functools.lru_cache(maxsize=64)
def notice_template(month: date, due_date: date | None) -> NoticeTemplate:
    """The month's template for one due date (a handful per month, so the cache stays small). It is
    used only if filling it gives exactly the direct render for a few totals (zero, a discount,
    a large one), and its body passes the SDK's own request model once."""
    marked = _message_json(month, _TOTAL_MARK, due_date)
    template = NoticeTemplate(month, due_date, tuple(marked.split(json.dumps(messages.signed_yen(_TOTAL_MARK))[1:-1])))
    if template.parts is None or len(template.parts) < 2 or any(
            template.message_json(total) != _message_json(month, total, due_date) for total in _CHECK_TOTALS):
        log.warning("the bill notice cannot be filled in from a template; rendering each one")
        template = NoticeTemplate(month, due_date, None)
    PushMessageRequest.from_dict(json.loads(template.body("U" + "0" * 32, _CHECK_TOTALS[-1])))
    return template


# -- one push ----------------------------------------------------------------------------------
SENT, RETRY, RATE_LIMITED, QUOTA, STOP, FAIL = "sent", "retry", "rate", "quota", "stop", "fail"
PUSH_PATH = "/v2/bot/message/push"


def _error_message(body: bytes | str | None) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return str(json.loads(body or "{}").get("message", ""))
    except (ValueError, AttributeError):
        return ""


@dataclass(frozen=True)
class PushClient:
    """Where prepared bodies go: a connection pool of the Messaging API client's own pool manager
    (its TLS settings and proxy), the push URL and the client's credentials."""

    pool: urllib3.connectionpool.HTTPConnectionPool
    target: str  # the request target: the push path (or the whole URL, through a plain-HTTP proxy)
    headers: dict[str, str]


def push_client(app: Flask | None = None) -> PushClient:
    """The push client of this app, made once from ``line_messaging_api``'s ``ApiClient``, its
    pool keeping as many connections alive as a batch has pushes in flight (the SDK keeps 10: more
    would each open a connection and be thrown away, with a warning, after one push)."""
    app = app or current_app
    client = app.extensions.get("notice_push_client")
    if client is None:
        api = app.extensions["line_messaging_api"].api_client
        url = api.configuration.host + PUSH_PATH
        pool = api.rest_client.pool_manager.connection_from_url(
            url, pool_kwargs={"maxsize": max(settings(app).concurrency, 10)})
        headers = {**api.default_headers, "User-Agent": api.user_agent, "Content-Type": "application/json",
                   "Accept": "application/json"}
        # The request target as urllib3's PoolManager would write it: the path, or the whole URL
        # to a plain-HTTP proxy.
        through_proxy = pool.proxy is not None and pool.scheme == "http"
        if through_proxy:
            headers.update(getattr(api.rest_client.pool_manager, "proxy_headers", None) or {})
        client = PushClient(pool, url if through_proxy else urllib3.util.parse_url(url).request_uri, headers)
        app.extensions["notice_push_client"] = client
    return client


def push_notice(client: PushClient, body: bytes, retry_key: str, timeout: float) -> tuple[str, str]:
    """Push one prepared notice body; return what happened (``SENT``, ``RETRY``, …) and the error.

    The bytes go out as they are, through the SDK client's pool: the SDK would validate the
    message into pydantic models and serialise it back, which cost more than everything else
    a notice does (issue 22); the template was checked against those models once. 409 (the key
    was accepted before), 429 (slow down, or the monthly limit) and 4xx mean different things.
    """
    try:
        response = client.pool.urlopen("POST", client.target, body=body,
                                        headers={**client.headers, "X-Line-Retry-Key": retry_key},
                                        timeout=urllib3.Timeout(connect=2, read=timeout), redirect=False,
                                        assert_same_host=False)
    except Exception as exc:  # noqa: BLE001 - timeouts and connection errors: LINE may or may not have it
        return RETRY, exc.__class__.__name__[:60]
    status = response.status
    if 200 <= status < 300:
        return SENT, ""
    if status == 409:
        return SENT, "http_409"
    if status == 429:
        return (QUOTA, "monthly_limit") if MONTHLY_LIMIT in _error_message(response.data) else (RATE_LIMITED,
                                                                                                 "http_429")
    if status >= 500:
        return RETRY, f"http_{status}"
    if status in (401, 403):
        return STOP, f"http_{status}"
    return FAIL, f"http_{status}"


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row, to be written with the others of its batch."""

    action: str  # sent | retry | failed | skipped | release
    delivery_id: int
    at: datetime
    error: str = ""
    retry_at: datetime | None = None
    attempted: bool = True


def _before_push(target: store.NoticeTarget, config: NoticeSettings, now: datetime) -> Outcome | None:
    """A row that is not to be pushed (skipped, or past the retry key's life), or None."""
    reason = (store.UNLINKED if target.line_user_id is None else store.OPTED_OUT if not target.notices_enabled
              else store.BLOCKED if target.blocked else "no_statement" if target.total is None else None)
    if reason:
        return Outcome("skipped", target.delivery_id, now, reason)
    window = timedelta(seconds=config.retry_window_seconds)
    if target.first_attempt_at is not None and now - target.first_attempt_at >= window:
        return Outcome("failed", target.delivery_id, now, "retry_window_expired", attempted=False)
    return None


def _after_push(target: store.NoticeTarget, config: NoticeSettings, outcome: str, error: str,
                now: datetime) -> Outcome:
    """The row's outcome from what LINE answered (a stop or slow-down is the batch's business)."""
    if outcome == SENT:
        return Outcome("sent", target.delivery_id, now)
    if outcome in (QUOTA, STOP):
        return Outcome("release", target.delivery_id, now)
    if outcome == RATE_LIMITED:
        return Outcome("retry", target.delivery_id, now, error, now + timedelta(seconds=1), attempted=False)
    if outcome == RETRY:
        window = timedelta(seconds=config.retry_window_seconds)
        attempt = target.attempts + 1
        first = target.first_attempt_at or now
        delay = config.retry_delays[attempt - 1] if attempt <= len(config.retry_delays) else None
        if delay is None or now + timedelta(seconds=delay) - first >= window:
            log.warning("bill notice given up after %d attempts (%s)", attempt, error)
            return Outcome("failed", target.delivery_id, now, error)
        return Outcome("retry", target.delivery_id, now, error, now + timedelta(seconds=delay))
    log.warning("bill notice refused by LINE (%s); marked failed", error)
    return Outcome("failed", target.delivery_id, now, error)


def _write_outcomes(token: str, outcomes: list[Outcome]) -> None:
    """One transaction for a handful of outcomes (one statement for the sent ones). A crash before
    it commits loses nothing: those rows are handed out again and their retry keys make LINE
    answer 409 for the ones it already has."""
    if not outcomes:
        return
    with _db().begin() as session:
        sent = [o.delivery_id for o in outcomes if o.action == "sent"]
        store.record_sent(session, sent, max(o.at for o in outcomes))
        released = [o.delivery_id for o in outcomes if o.action == "release"]
        store.release_many(session, released, token)
        for o in outcomes:
            if o.action == "retry":
                store.record_retry(session, o.delivery_id, token, o.at, o.retry_at or o.at, o.error, o.attempted)
            elif o.action == "failed":
                store.record_failed(session, o.delivery_id, token, o.at, o.error, o.attempted)
            elif o.action == "skipped":
                store.record_skipped(session, o.delivery_id, token, o.error)


FLUSH_SECONDS = 0.2  # outcomes are written at least this often (and a batch's last ones at its end)
SLOT_TICK = 0.002  # a batch hands out the rows whose slots have come at most this often (never early)
LATE_SECONDS = 0.05  # rows this late for their slots take new ones (the old per-push limiter's burst)


class _Batch:
    """One batch at work: its rows' outcomes, and what stops or slows its remaining pushes."""

    def __init__(self, app: Flask, token: str, config: NoticeSettings, month: date) -> None:
        self.app, self.token, self.config, self.month = app, token, config, month
        self.clock = app.config.get("CLOCK") or (lambda: datetime.now(TOKYO))
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
                    _slow_down()
                elif outcome != RATE_LIMITED:
                    _stop(self.month, "quota" if outcome == QUOTA else "unauthorized")
        self.add(_after_push(target, self.config, outcome, error, self.clock()))

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
        _write_outcomes(self.token, taken)

    def renew(self) -> None:
        """The rows stay this batch's while it works, however slow the machine."""
        try:
            with _db().begin() as session:
                store.renew_lease(session, self.token, self.clock(), self.config.lease_seconds)
        except SQLAlchemyError as exc:  # the next renewal tries again; at worst the rows are handed out twice
            log.warning("bill notice lease not renewed (%s)", exc.__class__.__name__)


def send_batch_job(token: str) -> None:
    """The job for one batch: its rows pushed at slots under the global rate, a few at a time in
    threads (``_push_at_slots``); outcomes are written every fraction of a second, so a batch of
    hundreds costs a handful of transactions and a few round trips to the rate limiter."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = settings(app)
    with _db().begin() as session:
        targets = store.take_batch(session, token, _now(), config.lease_seconds)
    if not targets:
        return
    batch = _Batch(app, token, config, targets[0].billing_month)  # a claim holds one month's rows
    now = _now()
    sendable = []
    for target in targets:
        early = _before_push(target, config, now)
        if early is None:
            sendable.append(target)
        else:
            batch.add(early)
    if sendable:
        _push_at_slots(batch, sendable)
    batch.flush()
    _refund(batch.month, batch.unused)


def _push_at_slots(batch: _Batch, sendable: list[store.NoticeTarget]) -> None:
    """Push the rows at slots of the global rate, never before their slot, writing the outcomes
    and renewing the lease as it goes; after a stop or a 429 the rest are held back.

    Slots are taken for as many rows as there are idle threads, in one round trip (the stop flag
    and the quota budget with them), so the batches of all workers take turns in short windows
    and each worker sends its share; threads are started only while all are busy, up to
    ``NOTICE_CONCURRENCY``. A row that could not be handed out within ``LATE_SECONDS`` of its
    slot (the machine stalled) does not go at once with the rows behind it: the rest of those
    slots are given back and taken anew, so a late batch never bursts past the rate."""
    config, month = batch.config, batch.month
    threads = min(config.concurrency, len(sendable))
    renew_every = config.lease_seconds / 3
    renewed = next_flush = time.monotonic()
    waiting = list(reversed(sendable))  # rows without a slot yet, the next one last
    slotted: list[tuple[float, store.NoticeTarget]] = []  # (slot, row) taken, not handed out yet
    futures: set = set()

    def check(finished) -> None:
        for future in finished:
            if future.exception() is not None:  # the row stays leased; a later dispatch hands it out
                log.error("bill notice not sent (%s); it will be handed out again",
                          future.exception().__class__.__name__)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notice") as pool:
        while waiting or slotted or futures:
            idle = threads - batch.in_flight - len(slotted)
            if waiting and not slotted and idle > 0 and not batch.halted:
                wanted = min(idle, len(waiting))
                slots = reserve_slots(month, wanted, config.rate)
                if slots.stopped:
                    batch.halted = batch.halted or "stop"
                elif slots.count < wanted:  # this run's share of the quota is spent
                    _stop(month, BUDGET)
                    now = _now()
                    for target in waiting[:len(waiting) - slots.count]:
                        batch.add(Outcome("release", target.delivery_id, now))
                    del waiting[:len(waiting) - slots.count]
                first = time.monotonic() + slots.delay
                slotted = [(first + n * slots.interval, waiting.pop()) for n in range(slots.count)]
                slotted.reverse()  # the next one last
            now = time.monotonic()
            if slotted and now - slotted[-1][0] > LATE_SECONDS and not batch.halted:
                _refund(month, len(slotted))  # too late for these slots: take new ones
                waiting.extend(target for _slot, target in slotted)
                slotted = []
                continue
            while slotted and slotted[-1][0] <= now and not batch.halted:
                with batch.lock:
                    batch.in_flight += 1
                futures.add(pool.submit(batch.push, slotted.pop()[1]))
            if batch.halted:
                for _slot, target in reversed(slotted):
                    batch.hold(target)  # slots paid for: given back at the end
                now_tokyo = _now()
                for target in reversed(waiting):
                    batch.add(Outcome("release", target.delivery_id, now_tokyo))
                slotted, waiting = [], []
            if now >= next_flush:
                finished = {future for future in futures if future.done()}
                check(finished)
                futures -= finished
                batch.flush()
                if now - renewed >= renew_every:
                    batch.renew()
                    renewed = now
                next_flush = now + min(FLUSH_SECONDS, renew_every)
            if slotted:  # rows are handed out a tick's worth at a time: fewer wake-ups
                time.sleep(max(SLOT_TICK, min(next_flush, slotted[-1][0]) - time.monotonic()))
            elif futures:  # rows left: until a thread comes back from LINE; none: until all have
                finished, futures = wait(futures, timeout=max(0.0, next_flush - time.monotonic()),
                                         return_when=FIRST_COMPLETED if waiting else ALL_COMPLETED)
                check(finished)


# -- runs --------------------------------------------------------------------------------------
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


class RunRefused(Exception):
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
    db = _db()
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
        store.plan_month(session, month, _now())
    redis = _redis()
    redis.delete(_key(month, "stop"))
    if quota.left is None:
        redis.delete(_key(month, "budget"))
    else:
        redis.set(_key(month, "budget"), quota.left, ex=KEY_TTL)
    redis.sadd(ACTIVE_KEY, f"{month:%Y-%m}")
    log.info("bill notices for %s: %d to send", f"{month:%Y-%m}", sending)
    return start


def dispatch(month: date) -> store.Pending:
    """Hand out the month's due rows as batch jobs (one dispatcher at a time across workers), no
    more than a lease's worth ahead of the rate, so queued batches do not outlive their leases."""
    config = settings()
    db = _db()
    redis = _redis()
    lock = _key(month, "dispatch")
    if redis.set(lock, "1", nx=True, ex=60):
        try:
            with db.begin() as session:
                store.expire_retries(session, month, _now(), config.retry_window_seconds)
                in_flight = store.leased(session, month, _now())
            # Half a lease's worth of sending at the configured rate may be out at once.
            room = max(int(config.rate * config.lease_seconds / 2), config.batch_size) - in_flight
            handed = last_id = 0
            while handed < room and not stop_reason(month):
                with db.begin() as session:
                    token, count, last_id = store.claim_batch(session, month, _now(), config.batch_size,
                                                              config.lease_seconds, after_id=last_id)
                if not count:
                    break
                handed += count
                jobs.enqueue(send_batch_job, token=token)
        finally:
            redis.delete(lock)
    with db.begin() as session:
        return store.pending(session, month, _now())


def _work_queue() -> None:
    """Run the queued jobs here too (an in-process burst worker), or wait for the inline pool."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner = app.extensions.get("job_runner")
    if runner is None:
        jobs.run_worker(app, burst=True)
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
        with _db().begin() as session:
            state = store.pending(session, month, _now())
        if not state.queued or stop_reason(month):
            if not state.queued:
                _redis().srem(ACTIVE_KEY, f"{month:%Y-%m}")
            return state
        if queued_before is None or state.queued < queued_before:  # progress: wait afresh
            deadline = time.monotonic() + config.wait_seconds
        queued_before = state.queued
        if state.next_due is None:
            continue
        wait = max((state.next_due - _now()).total_seconds(), 0.05)
        if time.monotonic() + wait > deadline:
            return state
        time.sleep(min(wait, 1.0))


# -- the command -------------------------------------------------------------------------------
SKIP_LABELS = {store.OPTED_OUT: "opted out", store.BLOCKED: "blocked", store.UNLINKED: "no longer linked",
               "no_statement": "no statement"}


def _parse_month(value: str) -> date:
    found = _MONTH.fullmatch(value.strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= 2099:
        raise click.BadParameter("give the billing month as YYYY-MM, e.g. 2026-11", param_hint="--month")
    return date(int(found.group(1)), int(found.group(2)), 1)


def _breakdown(counts: dict[str, int], labels: dict[str, str] | None = None) -> str:
    parts = [f"{(labels or {}).get(k, k or 'unknown')} {v:,}" for k, v in sorted(counts.items(), key=str) if v]
    return f" ({', '.join(parts)})" if parts else ""


def _quota_line(quota: Quota, sending: int) -> str:
    if quota.limit is None:
        return "quota: no monthly limit on this plan"
    return (f"quota: {quota.limit:,} messages this month, {quota.used:,} used, {quota.left:,} left; "
            f"this run uses {sending:,}, leaving {(quota.left or 0) - sending:,}")


def _summary(month: date, before: dict, after: dict) -> tuple[str, int, int]:
    """The closing line, how many are still queued, and how many failed."""
    def total(counts: dict, status: str) -> int:
        return sum(v for (s, _r), v in counts.items() if s == status)

    skipped = {r or "unknown": v for (s, r), v in after.items() if s == store.SKIPPED}
    failed = {r or "unknown": v for (s, r), v in after.items() if s == store.FAILED}
    queued = {r or "not tried": v for (s, r), v in after.items() if s == store.QUEUED}
    already = total(before, store.SENT)
    sent = total(after, store.SENT) - already
    line = (f"notify-bills {month:%Y-%m}: sent {sent:,}, already sent {already:,}, "
            f"skipped {sum(skipped.values()):,}{_breakdown(skipped, SKIP_LABELS)}, "
            f"failed {sum(failed.values()):,}{_breakdown(failed)}")
    if queued:
        line += f", not sent yet {sum(queued.values()):,}{_breakdown(queued)}"
    return line, sum(queued.values()), sum(failed.values())


@click.command("notify-bills")
@click.option("--month", "month_text", required=True, metavar="YYYY-MM", help="The billing month to notify.")
@click.option("--dry-run", is_flag=True, help="Count what would be sent and the quota it uses; send nothing.")
@click.option("--whole-only", is_flag=True,
              help="When the quota cannot cover the whole run, send nothing (default: send what it allows).")
@click.option("--partial", is_flag=True, hidden=True, help="Send what the quota allows (the default).")
@click.option("--retry-failed", is_flag=True,
              help="Also send the month's failed notices again (one LINE accepted more than a day ago "
                   "without saying so could arrive twice).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr (default: only when stderr is a terminal).")
@with_appcontext
def notify_bills_command(month_text: str, dry_run: bool, whole_only: bool, partial: bool, retry_failed: bool,
                         progress: bool | None) -> None:
    """Push MONTH's bill notice to every linked customer who has that statement, once each."""
    month = _parse_month(month_text)
    settings()
    try:
        start = start_run(month, partial=partial or not whole_only, dry_run=dry_run, retry_failed=retry_failed)
    except RunRefused as refusal:
        click.echo(f"notify-bills {month:%Y-%m}: {refusal}", err=True)
        raise click.exceptions.Exit(1) from None
    overview = start.overview
    skipped = sum(overview.skipped.values())
    if dry_run:
        click.echo(f"notify-bills {month:%Y-%m} (dry run): would send {overview.to_send:,}, already sent "
                   f"{overview.already_sent:,}, would skip {skipped:,}{_breakdown(overview.skipped, SKIP_LABELS)}, "
                   f"failed earlier {overview.failed:,}; nothing sent")
        click.echo(_quota_line(start.quota, start.sending))
        if start.sending < overview.to_send:
            click.echo(f"the quota cannot cover this run: {start.sending:,} would be sent, "
                       f"{overview.to_send - start.sending:,} left for a later run")
        return
    click.echo(_quota_line(start.quota, start.sending))
    if start.sending < overview.to_send:
        click.echo(f"the quota cannot cover this run: sending {start.sending:,} of {overview.to_send:,}; "
                   "the rest waits for a later run")
    with _db().begin() as session:
        before = {k: v for k, v in store.outcome_counts(session, month).items() if k[0] == store.SENT}
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=start.sending, desc=f"notices {month:%Y-%m}", unit="notice", file=sys.stderr,
               disable=not show, leave=False)
    done_before = sum(before.values())
    updating = threading.Event()

    def update_bar() -> None:
        with _db().begin() as session:
            counts = store.outcome_counts(session, month)
        done = sum(v for (s, _r), v in counts.items() if s != store.QUEUED) - done_before
        bar.n = max(0, min(done, start.sending))
        bar.refresh()

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def keep_updating() -> None:
        with app.app_context():
            while not updating.wait(0.5):
                update_bar()

    ticker = threading.Thread(target=keep_updating, daemon=True)
    if show:
        ticker.start()
    try:
        state = drive(month, update_bar if show else lambda: None)
    finally:
        updating.set()
        bar.close()
    with _db().begin() as session:
        after = store.outcome_counts(session, month)
    line, queued, failed = _summary(month, before, after)
    click.echo(line)
    reason = stop_reason(month)
    if reason in ("quota", BUDGET) and queued:
        click.echo(f"stopped: the monthly message quota is reached; {queued:,} notices left to send. "
                   "Run again when the quota allows (nothing is sent twice).")
        raise click.exceptions.Exit(1)
    if reason and queued:
        click.echo(f"stopped: LINE refused the access token ({reason}); {queued:,} notices left to send.")
        raise click.exceptions.Exit(1)
    if queued and state.next_due is not None:
        click.echo(f"{queued:,} notices wait for a retry; `flask --app app worker` retries them "
                   "(or run this command again later)")
    if failed:
        click.echo("failed notices are kept for review (notice_deliveries.status = 'failed'); they are not resent "
                   "unless you run this command again with --retry-failed")


# -- the schedule ------------------------------------------------------------------------------
def tick() -> None:
    """Called every minute by each worker: start this month's run when it is due, and keep
    handing out the rows of every active month (retries, a run whose command was killed)."""
    config = settings()
    now = _now().astimezone(TOKYO)
    month = month_start(now.date())
    redis = _redis()
    scheduled = _key(month, "scheduled")
    if now.hour >= config.hour and not redis.exists(scheduled):
        with _db().begin() as session:
            started = store.has_deliveries(session, month)
            settled = store.statements_settled(session, month, now, config.import_quiet_seconds)
        if started:
            redis.set(scheduled, "found", ex=KEY_TTL)
        elif settled and redis.set(scheduled, "started", ex=KEY_TTL, nx=True):
            try:
                start = start_run(month)
                log.info("scheduled bill notices for %s started: %d to send", f"{month:%Y-%m}", start.sending)
            except RunRefused as refusal:
                redis.set(scheduled, "refused", ex=KEY_TTL)
                log.error("scheduled bill notices for %s not started: %s", f"{month:%Y-%m}", refusal)
    for raw in redis.smembers(ACTIVE_KEY):
        name = raw.decode() if isinstance(raw, bytes) else raw
        active = _parse_month(name)
        if stop_reason(active):
            continue
        if not dispatch(active).queued:
            redis.srem(ACTIVE_KEY, name)
            log.info("bill notices for %s: nothing left to send", name)


def init_app(app: Flask) -> None:
    """Register ``notify-bills`` and the worker's minute tick (the schedule)."""
    app.cli.add_command(notify_bills_command)
    jobs.register_periodic(app, tick, every_seconds=60)
    jobs.bulk(app, send_batch_job)
