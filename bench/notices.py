"""``python -m bench notices``: 100,000 bill notices to a fake LINE with 50 ms latency, several workers.

For each size (``--sizes``, default 10,000 and 100,000 customers) it makes a throwaway
PostgreSQL database (migrated to ``heads``, dropped afterwards), seeds that many linked
customers with a statement for 2026-11 in SQL, starts ``--workers`` ``flask --app app worker``
processes and runs ``flask --app app notify-bills --month 2026-11`` (which works the queue too),
all against Redis ``BENCH_REDIS_URL`` (flushed before and after) and a fake LINE served from
this process, every call answered after ``--latency`` seconds, so LINE's side is not the
bottleneck. ``--fake lean`` (the default) is a small asyncio HTTP/1.1 server that keeps
connections alive as LINE does, answers a repeated ``X-Line-Retry-Key`` with 409 as LINE does,
and checks the first push body and one in ``VALIDATE_EVERY`` against LINE's OpenAPI spec
(an invalid one is answered 400 and counted); it costs about 0.2 ms of CPU a push.
``--fake flask`` is the tests' ``LineApiRecorder`` blueprint on werkzeug (threaded, a new
connection per call, the OpenAPI check off): 1 to 1.8 ms of this machine's CPU a push, in one
process, on the same two cores as the bot: it alone keeps a run under about 900 pushes a
second, whatever the bot does (issue 22, point 7).

Printed per size: wall time of the command, the achieved push rate (accepted pushes over the
span from the first to the last) against ``NOTICE_RATE_PER_SECOND``, the most pushes accepted
within any one second (the lean fake times a push when it comes in; the flask one when it
answers), duplicates (must be 0),
the CPU per accepted notice of the workers and the command together (the command's start-up,
about 2 CPU seconds of imports, and the workers' are not counted: the workers are measured
from when they sit idle), and the peak resident memory (VmHWM / ru_maxrss) of the command and
of the largest worker: memory that stays flat from 10,000 to 100,000 customers is what
streaming buys. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis as redis_lib
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from bench.common import throwaway_database
from handlers.emulator import line_schema
from handlers.emulator.line_api_fake import make_blueprint
from handlers.emulator.line_api_recorder import LineApiRecorder

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
ACCESS_TOKEN = "bench-access-token"
VALIDATE_EVERY = 500  # the lean fake checks the first push body and one in this many against LINE's spec

# ``flask --app app notify-bills``, with the app made first so its start-up CPU can be told apart.
_COMMAND = """
import resource, sys
from flask.cli import FlaskGroup, load_dotenv
load_dotenv()
from app import create_app
app = create_app()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"STARTUP_CPU_SECONDS={usage.ru_utime + usage.ru_stime}", file=sys.stderr, flush=True)
try:
    FlaskGroup(create_app=lambda: app).main(["notify-bills", "--month", "2026-11", "--no-progress"],
                                            prog_name="flask")
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"PEAK_RSS_KB={usage.ru_maxrss}", file=sys.stderr, flush=True)
    print(f"CPU_SECONDS={usage.ru_utime + usage.ru_stime}", file=sys.stderr, flush=True)
"""


@dataclass
class Push:
    """One push the fake LINE answered (``at``: when it came in, or for the flask fake when answered)."""

    at: float
    user_id: str
    status: int


@dataclass
class LeanLine:
    """A fake Messaging API for pushes and the quota: asyncio, HTTP/1.1 keep-alive, TCP_NODELAY."""

    latency: float
    pushes: list[Push] = field(default_factory=list)
    received: int = 0
    validated: int = 0
    invalid: int = 0
    _keys: set[str] = field(default_factory=set)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path = head[0].split(" ", 2)[:2]
                headers = {name.strip().lower(): value.strip()
                           for name, _, value in (line.partition(":") for line in head[1:] if line)}
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                arrived = time.time()  # what LINE's rate limit would count: when the push came in
                if self.latency:
                    await asyncio.sleep(self.latency)
                status, answer = await self.answer(method, path, headers, body, arrived)
                data = json.dumps(answer).encode()
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes,
                     arrived: float) -> tuple[int, dict]:
        if headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, {"message": "Authentication failed"}
        if method == "GET" and path == "/v2/bot/message/quota":
            return 200, {"type": "none"}
        if method == "GET" and path == "/v2/bot/message/quota/consumption":
            return 200, {"totalUsage": 0}
        if method != "POST" or path != "/v2/bot/message/push":
            return 404, {"message": "Not found"}
        request = json.loads(body)
        user_id = request.get("to", "")
        self.received += 1
        if self.received % VALIDATE_EVERY == 1:
            self.validated += 1  # in a thread: the check must not hold the other answers back
            errors = await asyncio.to_thread(line_schema.validate, "PushMessageRequest", request)
            if errors:
                self.invalid += 1
                self.pushes.append(Push(arrived, user_id, 400))
                return 400, {"message": f"The request body has {len(errors)} error(s)", "details": errors[:5]}
        key = headers.get("x-line-retry-key", "")
        if key and key in self._keys:
            self.pushes.append(Push(arrived, user_id, 409))
            return 409, {"message": "The retry key is already accepted"}
        self._keys.add(key)
        self.pushes.append(Push(arrived, user_id, 200))
        return 200, {"sentMessages": [{"id": str(len(self.pushes))}]}


def serve_lean_line(latency: float) -> tuple[LeanLine, str, object]:
    """The lean fake on a thread of its own; returns it, its URL and what stops it."""
    fake = LeanLine(latency)
    line_schema.validate("PushMessageRequest", {"to": "U" + "0" * 32, "messages": []})  # load the spec now
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(fake.serve, "127.0.0.1", 0, backlog=1024))
    port = server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()

    class _Stop:
        def shutdown(self) -> None:
            loop.call_soon_threadsafe(loop.stop)

    return fake, f"http://127.0.0.1:{port}", _Stop()


class _FastHandler(WSGIRequestHandler):
    """No Nagle delay and no access log (werkzeug closes every connection; a loopback connect is cheap)."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, *args, **kwargs) -> None:  # 100,000 access-log lines would be the bottleneck
        pass


def serve_fake_line(latency: float) -> tuple[LineApiRecorder, str, object]:
    recorder = LineApiRecorder(ACCESS_TOKEN, validate=False, latency=latency)
    fake = Flask("fake_line")
    fake.register_blueprint(make_blueprint(recorder))
    server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_FastHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return recorder, f"http://127.0.0.1:{server.server_port}", server


def seed(url: str, customers: int) -> None:
    """``customers`` active accounts linked to LINE, each with a 2026-11 statement (SQL, seconds)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        conn.execute("INSERT INTO customers (customer_number, phone, name_kana, created_at, updated_at) "
                     "SELECT (30000000 + g)::text, '0748621234', 'アイコム　タロウ', now(), now() "
                     "FROM generate_series(1, %s) g", (customers,))
        conn.execute("INSERT INTO accounts (customer_id, login_id, login_id_key, email, nickname, password_hash, "
                     "status, session_version, created_at, activated_at) SELECT id, 'u' || id, 'u' || id, "
                     "'u' || id || '@example.jp', 'x', 'x', 'active', 1, now(), now() FROM customers")
        conn.execute("INSERT INTO line_links (line_user_id, account_id, notices_enabled, linked_at) "
                     "SELECT 'U' || lpad(to_hex(id), 32, '0'), id, true, now() FROM accounts")
        conn.execute("INSERT INTO statements (customer_id, billing_month, due_date, payment_method, total, "
                     "imported_at) SELECT id, DATE '2026-11-01', DATE '2026-12-28', '口座振替', 5000 + id % 1000, "
                     "now() - interval '1 day' FROM customers")
        conn.execute("ANALYZE")


def cpu_seconds(pid: int, part: str = "both") -> float:
    """A live process's CPU time so far (user + system, or ``part`` "user" or "system"), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return {"both": user + system, "user": user, "system": system}[part] / os.sysconf("SC_CLK_TCK")


def wait_idle(pids: list[int], timeout: float = 60.0) -> None:
    """Wait until these processes have started (their CPU time stops climbing: imports done)."""
    deadline = time.monotonic() + timeout
    before = [cpu_seconds(pid) for pid in pids]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = [cpu_seconds(pid) for pid in pids]
        if all(b - a < 0.05 for a, b in zip(before, now, strict=True)):
            return
        before = now


def peak_kb(pid: int) -> int:
    """A live process's peak resident set (VmHWM), in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def rss_kb(pid: int) -> int:
    """A live process's resident set now (VmRSS), in KB (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_command(env: dict) -> tuple[subprocess.CompletedProcess, list[tuple[float, int]]]:
    """Run ``notify-bills`` and sample its resident memory every 5 seconds (when it grows, and by how much)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", _COMMAND], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    trace: list[tuple[float, int]] = []
    output: dict[str, str] = {}
    reader = threading.Thread(target=lambda: output.update(zip(("stdout", "stderr"), process.communicate(),
                                                               strict=True)))
    reader.start()
    while reader.is_alive():
        trace.append((time.perf_counter() - started, rss_kb(process.pid)))
        reader.join(5)
    return (subprocess.CompletedProcess(process.args, process.returncode, output.get("stdout", ""),
                                        output.get("stderr", "")), trace)


def run_size(customers: int, workers: int, rate: int, latency: float, fake: str = "lean") -> dict:
    """One size: seed the customers, send their notices, and what it cost."""
    lean, recorder = None, None
    if fake == "lean":
        lean, line_url, server = serve_lean_line(latency)
    else:
        recorder, line_url, server = serve_fake_line(latency)
    redis_lib.Redis.from_url(REDIS_URL).flushdb()
    try:
        with throwaway_database() as url:
            started = time.perf_counter()
            seed(url, customers)
            seeded = time.perf_counter() - started
            env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY="bench-" + "x" * 32,
                       LINE_CHANNEL_SECRET="bench-secret", LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
                       LINE_API_BASE_URL=line_url, EMULATOR="0", SMTP_URL="smtp://127.0.0.1:25",
                       NOTICE_RATE_PER_SECOND=str(rate))
            sent = send_with_workers(env, workers)
    finally:
        server.shutdown()
        redis_lib.Redis.from_url(REDIS_URL).flushdb()
    if lean is not None:
        calls = lean.pushes
    else:
        calls = [Push(c.at, c.user_id or "", c.status) for c in recorder.calls if c.kind == "push"]
    return summarise(customers, seeded, sent, calls, lean)


def send_with_workers(env: dict, workers: int) -> dict:
    """Start the worker processes, run the command beside them, and read their CPU and memory."""
    pool = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        time.sleep(2)  # let the workers connect before the first batch is queued
        wait_idle([p.pid for p in pool])  # their start-up (imports) is not the notices' cost
        workers_cpu = sum(cpu_seconds(p.pid) for p in pool)
        workers_sys = sum(cpu_seconds(p.pid, "system") for p in pool)
        own = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        command, rss_trace = run_command(env)
        wall = time.perf_counter() - started
        worker_peaks = [peak_kb(p.pid) for p in pool]
        workers_cpu = sum(cpu_seconds(p.pid) for p in pool) - workers_cpu
        workers_sys = sum(cpu_seconds(p.pid, "system") for p in pool) - workers_sys
        after = resource.getrusage(resource.RUSAGE_SELF)
        fake_cpu = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    finally:
        for process in pool:
            process.terminate()
        for process in pool:
            process.wait(timeout=30)
    return {"command": command, "rss_trace": rss_trace, "wall": wall, "worker_peaks": worker_peaks,
            "workers_cpu": workers_cpu, "workers_sys": workers_sys, "fake_cpu": fake_cpu}


def summarise(customers: int, seeded: float, sent: dict, calls: list[Push], lean: LeanLine | None) -> dict:
    """What one size achieved: the pushes LINE accepted, their rate and busiest second, CPU, memory."""
    command, rss_trace, workers_cpu = sent["command"], sent["rss_trace"], sent["workers_cpu"]
    accepted = sorted((c for c in calls if c.status == 200), key=lambda c: c.at)
    span = (accepted[-1].at - accepted[0].at) if len(accepted) > 1 else 0.0
    busiest, first = 0, 0  # the most pushes LINE accepted within any one second
    for last, call in enumerate(accepted):
        while call.at - accepted[first].at >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    duplicates = sum(n - 1 for n in Counter(c.user_id for c in accepted).values() if n > 1)
    peak_line = next((line for line in command.stderr.splitlines() if line.startswith("PEAK_RSS_KB=")), "=0")
    cpu_line = next((line for line in command.stderr.splitlines() if line.startswith("CPU_SECONDS=")), "=0")
    startup_line = next((line for line in command.stderr.splitlines()
                         if line.startswith("STARTUP_CPU_SECONDS=")), "=0")
    startup_cpu = float(startup_line.split("=")[1])
    sending_cpu = workers_cpu + float(cpu_line.split("=")[1]) - startup_cpu
    summary = next((line for line in command.stdout.splitlines() if line.startswith("notify-bills")), "")
    samples = [kb for _t, kb in rss_trace if kb]
    return {"rss_trace": " ".join(f"{t:.0f}s:{kb // 1024}" for t, kb in rss_trace[::max(len(rss_trace) // 12, 1)]),
            "rss_last_mb": (samples[-1] if samples else 0) / 1024,
            "customers": customers, "seeded": seeded, "wall": sent["wall"], "accepted": len(accepted),
            "rate": len(accepted) / span if span else 0.0, "duplicates": duplicates, "busiest": busiest,
            "command_peak_mb": int(peak_line.split("=")[1]) / 1024,
            "worker_peak_mb": max(sent["worker_peaks"], default=0) / 1024,
            "cpu_ms": 1000 * sending_cpu / max(len(accepted), 1), "startup_cpu": startup_cpu,
            "workers_cpu": workers_cpu, "workers_sys": sent["workers_sys"], "command_cpu": sending_cpu - workers_cpu,
            "refused": sum(1 for c in calls if c.status not in (200, 409)), "conflicts": sum(1 for c in calls
                                                                                       if c.status == 409),
            "validated": lean.validated if lean else 0, "invalid": lean.invalid if lean else 0,
            "fake_cpu_ms": 1000 * sent["fake_cpu"] / max(len(accepted), 1),
            "exit": command.returncode, "summary": summary, "stderr": command.stderr[-2000:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench notices", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="customer counts, comma-separated")
    parser.add_argument("--workers", type=int, default=4, help="worker processes beside the command")
    parser.add_argument("--rate", type=int, default=200, help="NOTICE_RATE_PER_SECOND")
    parser.add_argument("--latency", type=float, default=0.05, help="the fake LINE's answer delay, seconds")
    parser.add_argument("--fake", choices=("lean", "flask"), default="lean",
                        help="the fake LINE: lean (asyncio, keep-alive) or flask (the tests' recorder on werkzeug)")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    concurrency = os.environ.get("NOTICE_CONCURRENCY", "default")
    print(f"bill notices: {args.workers} workers + the command, NOTICE_RATE_PER_SECOND={args.rate}, "
          f"NOTICE_CONCURRENCY={concurrency}, fake LINE ({args.fake}) latency {args.latency * 1000:.0f} ms",
          flush=True)
    status = 0
    for size in (int(s) for s in args.sizes.split(",")):
        result = run_size(size, args.workers, args.rate, args.latency, args.fake)
        print(f"{result['customers']:>8,} customers: {result['accepted']:,} pushes in {result['wall']:.1f} s "
              f"(seeded in {result['seeded']:.1f} s); achieved {result['rate']:.0f}/s against the limit of "
              f"{args.rate}/s ({result['rate'] / args.rate:.0%}); duplicates {result['duplicates']}; "
              f"peak memory: command {result['command_peak_mb']:.0f} MB, largest worker "
              f"{result['worker_peak_mb']:.0f} MB; CPU per notice: {result['cpu_ms']:.2f} ms sending "
              f"(workers + command, start-up not counted: the command's {result['startup_cpu']:.1f} s), "
              f"{result['fake_cpu_ms']:.2f} ms the fake LINE", flush=True)
        print(f"          the busiest second: {result['busiest']:,} pushes (the limit: {args.rate:,})", flush=True)
        print(f"          CPU seconds: workers {result['workers_cpu']:.1f} (system {result['workers_sys']:.1f}), "
              f"command {result['command_cpu']:.1f} (after its start-up)", flush=True)
        print(f"          LINE answered 409 to {result['conflicts']:,}, refused {result['refused']:,}; "
              f"bodies checked against LINE's spec: {result['validated']:,}, invalid {result['invalid']:,}",
              flush=True)
        print(f"          {result['summary']}", flush=True)
        print(f"          command resident memory over time (MB): {result['rss_trace']}", flush=True)
        if result["exit"] != 0 or result["duplicates"] or result["invalid"]:
            print(result["stderr"], file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
