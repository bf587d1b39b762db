"""``python -m bench webhook``: how long POST /callback takes, and whether memory grows per request.

LINE counts a webhook as failed when it is not answered within 2 seconds. This builds the
real app (``create_app``) on a throwaway PostgreSQL database (migrated to ``heads``, dropped
afterwards), Redis DB 11 (``BENCH_REDIS_URL``; flushed before and after) and a fake LINE
(``handlers.emulator.line_api_fake``) served by werkzeug in a thread on loopback, seeds the demo
customers (12 months of statements) plus an active account linked to a LINE user, and
times signed webhooks through ``app.test_client()``:

- baseline: LINE's Verify body ``{"events": []}`` (signature check only);
- ``ヘルプ`` from the linked user (the menu);
- ``今月の料金`` from the linked user (bill card, bearer-link token, Flex, reply through the SDK
  to the fake LINE, which validates the body against LINE's OpenAPI spec), and the same with
  the fake's validation switched off: the difference is the fake's time, not ours;
- ``登録`` from a new LINE user (starts registration), and its next step, the お客様番号 answer.

The scenarios run interleaved (one request of each per round), so drift hits them alike.
``app.test_client()`` rather than a real HTTP server: it times our code (signature check,
engine, database, Redis, the SDK's reply over real HTTP) without adding the benchmark's own
HTTP client and server parsing to every number; a production WSGI server adds a roughly
constant ~1 ms on loopback. The reply to the fake LINE does go over real loopback HTTP.

Then memory: RSS after ``--memory`` more ``今月の料金`` requests (KB per request) and, with
``tracemalloc``, the source lines whose allocations grew most over a shorter run.
Nothing is asserted about timings; anything with p95 above 500 ms is flagged SLOW.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gc
import hashlib
import hmac
import json
import logging
import os
import pstats
import resource
import secrets
import statistics
import threading
import time
import tracemalloc
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import redis as redis_lib
from flask import Flask
from werkzeug.serving import make_server

from bench.common import throwaway_database
from storage.timezone import TOKYO

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
CHANNEL_SECRET = "bench-channel-secret"
ACCESS_TOKEN = "bench-access-token"
BOT_USER_ID = "U" + "0" * 32
LINKED_USER = "U" + "b" * 32
CUSTOMER_NUMBER = "12345678"  # a demo customer (handlers/demo_data.py)
SLOW_P95_MS = 500.0


@dataclass
class Scenario:
    """One kind of webhook: ``before``/``make`` (untimed) prepare and build the body; ``expect`` checks the reply."""

    label: str
    make: Callable[[], bytes]
    expect: str | None = None  # a phrase the reply must contain (checked on every request)
    before: Callable[[], None] | None = None
    after: Callable[[], None] | None = None
    times: list[float] = field(default_factory=list)
    first_ms: float | None = None
    wrong: int = 0


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()).decode()


class FakeLine:
    """The fake Messaging API in a werkzeug thread on loopback."""

    def __init__(self) -> None:
        from handlers.emulator import line_schema
        from handlers.emulator.line_api_fake import make_blueprint
        from handlers.emulator.line_api_recorder import LineApiRecorder

        self.recorder = LineApiRecorder(ACCESS_TOKEN)
        # Load and compile LINE's spec now: the first request's time should be ours, not the fake's start-up.
        line_schema.validate("ReplyMessageRequest", {"replyToken": "x", "messages": [{"type": "text", "text": "x"}]})
        fake = Flask("fake_line")
        fake.register_blueprint(make_blueprint(self.recorder))
        self.server = make_server("127.0.0.1", 0, fake, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forget(self) -> None:
        """Drop what the fake remembered, so it does not grow during the memory runs."""
        self.recorder.clear()
        self.recorder.invalid_reply_tokens.clear()
        self.recorder.reply_token_users.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def event_body(user_id: str, text: str, recorder) -> bytes:
    token = uuid.uuid4().hex
    recorder.reply_token_users[token] = user_id
    event = {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id}, "replyToken": token,
        "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24], "deliveryContext": {"isRedelivery": False},
        "message": {"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text, "quoteToken": uuid.uuid4().hex},
    }
    return json.dumps({"destination": BOT_USER_ID, "events": [event]}, ensure_ascii=False).encode()


def seed(app) -> None:
    """The demo customers with 12 months of statements; customer 12345678 active and linked to ``LINKED_USER``."""
    from sqlalchemy import select

    from bot.demo import seed_demo
    from storage.models import Account, Customer, LineLink
    from storage.security import hash_password

    now = datetime.now(TOKYO)
    seed_demo(app.extensions["db"], now)
    with app.extensions["db"].begin() as db:
        customer = db.scalars(select(Customer).where(Customer.customer_number == CUSTOMER_NUMBER)).one()
        account = Account(customer_id=customer.id, login_id="Bench_Taro", login_id_key="bench_taro",
                          email="taro@example.jp", nickname="たろう", password_hash=hash_password("Bench2026pw"),
                          status="active", session_version=1, created_at=now, activated_at=now)
        db.add(account)
        db.flush()
        db.add(LineLink(line_user_id=LINKED_USER, account_id=account.id, notices_enabled=True, linked_at=now))


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * q // 100) - 1))
    return sorted_values[int(index)]


def current_rss_kb() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench webhook", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per scenario first (default 20)")
    parser.add_argument("--memory", type=int, default=1000, help="今月の料金 requests for the RSS check (default 1000)")
    parser.add_argument("--tracemalloc", type=int, default=300,
                        help="今月の料金 requests traced (default 300; 0: skip)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N 今月の料金 requests with cProfile and print the top functions")
    args = parser.parse_args(argv)
    args.requests, args.warmup = max(1, min(args.requests, 100_000)), max(0, min(args.warmup, 10_000))
    args.memory, args.tracemalloc = max(0, min(args.memory, 100_000)), max(0, min(args.tracemalloc, 100_000))

    logging.basicConfig(level=logging.WARNING)
    from app import create_app

    redis_client = redis_lib.Redis.from_url(REDIS_URL)
    redis_client.flushdb()
    fake = FakeLine()
    try:
        with throwaway_database() as url:
            app = create_app({
                "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": secrets.token_hex(32),
                "LINE_CHANNEL_SECRET": CHANNEL_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
                "LINE_API_BASE_URL": fake.url, "PUBLIC_BASE_URL": "http://localhost", "EMULATOR": False,
                "SMTP_URL": "smtp://127.0.0.1:25",
                "JOBS_INLINE": False,
            })
            logging.getLogger().setLevel(logging.WARNING)  # create_app sets INFO
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake's server would log every call
            try:
                seed(app)
                return run(app, fake, args)
            finally:
                app.extensions["db"].engine.dispose()
                app.extensions["redis"].close()
    finally:
        fake.stop()
        redis_client.flushdb()
        redis_client.close()


def run(app, fake: FakeLine, args) -> int:
    """The scenarios interleaved, then the pieces of one 今月の料金, memory and (optionally) a profile."""
    client = app.test_client()
    recorder = fake.recorder
    scenarios = make_scenarios(client, recorder)
    play(scenarios, client, fake, args)
    fake.forget()

    report(scenarios, args)
    queued = sum(1 for _ in app.extensions["redis"].scan_iter("rq:queue:*"))
    print(f"  RQ queues holding jobs afterwards: {queued} (a failed reply would have queued a push)")

    bill = lambda: event_body(LINKED_USER, "今月の料金", recorder)  # noqa: E731
    breakdown(client, fake, bill)
    if args.memory:
        memory_rss(client, fake, bill, args.memory)
    if args.tracemalloc:
        memory_traced(client, fake, bill, args.tracemalloc)
    if args.profile:
        profile(client, fake, bill, min(args.profile, 100_000))
    return 0


def make_scenarios(client, recorder) -> list[Scenario]:
    """The kinds of webhook timed, the baseline (LINE's Verify body) first."""
    verify_body = json.dumps({"destination": BOT_USER_ID, "events": []}).encode()

    def new_user() -> str:
        return "U" + uuid.uuid4().hex

    pending: dict[str, str] = {}  # the user whose 登録 was just sent, for the next step

    def start_registration() -> None:
        """Untimed: a new user sends 登録, so the timed request is the お客様番号 answer."""
        pending["user"] = user = new_user()
        post(client, event_body(user, "登録", recorder))

    def validation(on: bool) -> Callable[[], None]:
        def switch() -> None:
            recorder.validate = on
        return switch

    return [
        Scenario("baseline: Verify {\"events\": []}", lambda: verify_body),
        Scenario("ヘルプ (menu)", lambda: event_body(LINKED_USER, "ヘルプ", recorder), expect="料金"),
        Scenario("今月の料金 (fake validates)", lambda: event_body(LINKED_USER, "今月の料金", recorder), expect="円"),
        Scenario("今月の料金 (no validation)", lambda: event_body(LINKED_USER, "今月の料金", recorder), expect="円",
                 before=validation(False), after=validation(True)),
        Scenario("登録 (new user)", lambda: event_body(new_user(), "登録", recorder), expect="お客様番号"),
        Scenario("登録 → お客様番号 answer", lambda: event_body(pending["user"], CUSTOMER_NUMBER, recorder),
                 expect="電話番号", before=start_registration),
    ]


def play(scenarios: list[Scenario], client, fake: FakeLine, args) -> None:
    """``--warmup`` + ``--requests`` rounds, one request of each scenario per round, each checked."""
    for round_number in range(args.warmup + args.requests):
        for scenario in scenarios:
            if scenario.before:
                scenario.before()
            body = scenario.make()
            fake.forget()
            elapsed = timed_post(client, body)
            if scenario.after:
                scenario.after()
            if scenario.expect and not any(scenario.expect in t for t in fake.recorder.texts()):
                scenario.wrong += 1
            if round_number == 0:
                scenario.first_ms = elapsed * 1000
            elif round_number >= args.warmup:
                scenario.times.append(elapsed * 1000)


def post(client, body: bytes):
    response = client.post("/callback", data=body, headers={
        "Content-Type": "application/json; charset=utf-8", "X-Line-Signature": sign(body)})
    if response.status_code != 200:
        raise SystemExit(f"bench webhook: /callback answered {response.status_code}: {response.get_data(as_text=True)}")
    return response


def timed_post(client, body: bytes) -> float:
    start = time.perf_counter()
    post(client, body)
    return time.perf_counter() - start


def pad(text: str, width: int) -> str:
    """Left-justify to ``width`` terminal columns (Japanese characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)


def report(scenarios: list[Scenario], args) -> None:
    print(f"POST /callback via app.test_client(), PostgreSQL + Redis, fake LINE on loopback; "
          f"{args.requests} timed requests per scenario after {args.warmup} warm-up, interleaved")
    width = max(len(pad(s.label, 0)) for s in scenarios)
    print(f"  {pad('scenario', width)}  {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'first':>7}  ms   "
          f"{'p50 ×':>7} {'p95 ×':>7} vs baseline")
    base = sorted(scenarios[0].times)
    base50, base95 = percentile(base, 50), percentile(base, 95)
    p50s: dict[str, float] = {}
    for scenario in scenarios:
        values = sorted(scenario.times)
        p50, p95, p99 = percentile(values, 50), percentile(values, 95), percentile(values, 99)
        p50s[scenario.label] = p50
        flags = []
        if p95 > SLOW_P95_MS:
            flags.append(f"SLOW (p95 > {SLOW_P95_MS:.0f} ms)")
        if scenario.wrong:
            flags.append(f"{scenario.wrong} replies without {scenario.expect!r}")
        print(f"  {pad(scenario.label, width)}  {p50:7.1f} {p95:7.1f} {p99:7.1f} {values[-1]:7.1f} "
              f"{scenario.first_ms or 0:7.1f}       {p50 / base50:7.1f} {p95 / base95:7.1f}  {' '.join(flags)}")
    worst = max(percentile(sorted(s.times), 99) for s in scenarios)
    print(f"  slowest p99 {worst:.1f} ms = {worst / 2000:.1%} of LINE's 2 s webhook timeout")
    validated = statistics.fmean(scenarios[2].times)
    unvalidated = statistics.fmean(scenarios[3].times)
    print(f"  the fake's OpenAPI validation: {validated - unvalidated:.1f} ms of the {validated:.1f} ms mean "
          f"今月の料金 ({(validated - unvalidated) / validated:.0%}; LINE's time in production, not ours)")


def _per_call_ms(action: Callable[[], object], count: int = 200) -> float:
    start = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - start) / count * 1000


def breakdown(client, fake: FakeLine, make: Callable[[], bytes]) -> None:
    """Pieces of a 今月の料金 request timed alone: the SDK's model round trip, the fake's check, the loading timer."""
    from linebot.v3.messaging import ApiClient, Configuration, ReplyMessageRequest

    from handlers.emulator import line_schema

    fake.forget()
    post(client, make())
    body = fake.recorder.accepted("reply")[-1].body
    fake.forget()
    sdk = ApiClient(Configuration(host="http://127.0.0.1", access_token=ACCESS_TOKEN))
    request = ReplyMessageRequest.from_dict(body)
    parse = _per_call_ms(lambda: ReplyMessageRequest.from_dict(body))
    serialise = _per_call_ms(lambda: json.dumps(sdk.sanitize_for_serialization(request)))
    check = _per_call_ms(lambda: line_schema.validate("ReplyMessageRequest", body))

    def timer() -> None:  # what handlers/line.py _handle_with_loading does for every text and postback
        started = threading.Timer(60, lambda: None)
        started.daemon = True
        started.start()
        started.cancel()
        started.join()

    thread = _per_call_ms(timer)
    size = len(json.dumps(body, ensure_ascii=False).encode())
    print(f"  pieces of one 今月の料金 ({size:,}-byte reply body), each timed alone x200:")
    print(f"    SDK ReplyMessageRequest.from_dict {parse:.2f} ms + SDK serialisation {serialise:.2f} ms "
          f"(handlers/line/delivery.py deliver: dict -> pydantic -> dict)")
    print(f"    loading-animation Timer thread start+cancel {thread:.2f} ms (handlers/line.py _handle_with_loading)")
    print(f"    the fake's OpenAPI check {check:.2f} ms (not ours)")


def _bill_loop(client, fake: FakeLine, make: Callable[[], bytes], count: int) -> None:
    for _ in range(count):
        body = make()
        post(client, body)
        fake.forget()


def memory_rss(client, fake: FakeLine, make: Callable[[], bytes], count: int) -> None:
    _bill_loop(client, fake, make, min(count, 200))  # settle caches and pools first
    gc.collect()
    peak_before, rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, current_rss_kb()
    _bill_loop(client, fake, make, count)
    gc.collect()
    peak_after, rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, current_rss_kb()
    print(f"memory over {count:,} more 今月の料金 requests: RSS {rss_before / 1024:.1f} -> {rss_after / 1024:.1f} MB "
          f"({(rss_after - rss_before) / count:+.2f} KB/request), peak RSS growth "
          f"{(peak_after - peak_before) / count:+.2f} KB/request")


def memory_traced(client, fake: FakeLine, make: Callable[[], bytes], count: int) -> None:
    tracemalloc.start(1)
    _bill_loop(client, fake, make, 20)
    gc.collect()
    before = tracemalloc.take_snapshot()
    _bill_loop(client, fake, make, count)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    ignore = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>"))
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    growth = sum(s.size_diff for s in stats)
    print(f"tracemalloc over {count:,} 今月の料金 requests: Python heap {growth / 1024:+.0f} KB "
          f"({growth / 1024 / count:+.2f} KB/request); largest growth:")
    for stat in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:5]:
        frame = stat.traceback[0]
        print(f"    {stat.size_diff / 1024:+8.1f} KB {stat.count_diff:+6d} blocks  "
              f"{_short(frame.filename)}:{frame.lineno}")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def profile(client, fake: FakeLine, make: Callable[[], bytes], count: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    _bill_loop(client, fake, make, count)
    profiler.disable()
    print(f"cProfile over {count:,} 今月の料金 requests (this thread only; the fake LINE runs in another):")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
