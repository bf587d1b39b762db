"""``python -m bench notices``: 100,000 bill notices to a fake LINE with 50 ms latency, several workers.

For each size (``--sizes``, default 10,000 and 100,000 customers) it makes a throwaway
PostgreSQL database (migrated to ``heads``, dropped afterwards), seeds that many linked
customers with a statement for 2026-11 in SQL, starts ``--workers`` ``flask --app app worker``
processes and runs ``flask --app app notify-bills --month 2026-11`` (which works the queue too),
all against Redis ``BENCH_REDIS_URL`` (flushed before and after) and a fake LINE served from
this process: werkzeug, threaded, TCP_NODELAY, no access log, every call answered after
``--latency`` seconds, the OpenAPI check off (the tests do that), so LINE's side is not the
bottleneck.

Printed per size: wall time of the command, the achieved push rate (accepted pushes over the
span from the first to the last) against ``NOTICE_RATE_PER_SECOND``, duplicates (must be 0),
and the peak resident memory (VmHWM / ru_maxrss) of the command and of the largest worker:
memory that stays flat from 10,000 to 100,000 customers is what streaming buys.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import redis as redis_lib
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from bench.common import throwaway_database
from handlers.emulator.line_api_fake import LineApiRecorder, make_blueprint

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ACCESS_TOKEN = "bench-access-token"

_COMMAND = """
import resource, sys
from flask.cli import main
sys.argv = ["flask", "--app", "app", "notify-bills", "--month", "2026-11", "--no-progress"]
try:
    main()
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"PEAK_RSS_KB={usage.ru_maxrss}", file=sys.stderr, flush=True)
    print(f"CPU_SECONDS={usage.ru_utime + usage.ru_stime}", file=sys.stderr, flush=True)
"""


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


def cpu_seconds(pid: int) -> float:
    """A live process's CPU time so far (user + system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def run_size(customers: int, workers: int, rate: int, latency: float) -> dict:
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
            pool = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
            try:
                time.sleep(2)  # let the workers connect before the first batch is queued
                workers_cpu = sum(cpu_seconds(p.pid) for p in pool)
                own = resource.getrusage(resource.RUSAGE_SELF)
                started = time.perf_counter()
                command, rss_trace = run_command(env)
                wall = time.perf_counter() - started
                worker_peaks = [peak_kb(p.pid) for p in pool]
                workers_cpu = sum(cpu_seconds(p.pid) for p in pool) - workers_cpu
                after = resource.getrusage(resource.RUSAGE_SELF)
                fake_cpu = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
            finally:
                for process in pool:
                    process.terminate()
                for process in pool:
                    process.wait(timeout=30)
    finally:
        server.shutdown()
        redis_lib.Redis.from_url(REDIS_URL).flushdb()
    accepted = [c for c in recorder.calls if c.kind == "push" and c.status == 200]
    span = (accepted[-1].at - accepted[0].at) if len(accepted) > 1 else 0.0
    duplicates = sum(n - 1 for n in Counter(c.user_id for c in accepted).values() if n > 1)
    peak_line = next((line for line in command.stderr.splitlines() if line.startswith("PEAK_RSS_KB=")), "=0")
    cpu_line = next((line for line in command.stderr.splitlines() if line.startswith("CPU_SECONDS=")), "=0")
    sending_cpu = workers_cpu + float(cpu_line.split("=")[1])
    summary = next((line for line in command.stdout.splitlines() if line.startswith("notify-bills")), "")
    samples = [kb for _t, kb in rss_trace if kb]
    return {"rss_trace": " ".join(f"{t:.0f}s:{kb // 1024}" for t, kb in rss_trace[::max(len(rss_trace) // 12, 1)]),
            "rss_last_mb": (samples[-1] if samples else 0) / 1024,
            "customers": customers, "seeded": seeded, "wall": wall, "accepted": len(accepted),
            "rate": len(accepted) / span if span else 0.0, "duplicates": duplicates,
            "command_peak_mb": int(peak_line.split("=")[1]) / 1024,
            "worker_peak_mb": max(worker_peaks, default=0) / 1024,
            "cpu_ms": 1000 * sending_cpu / max(len(accepted), 1),
            "fake_cpu_ms": 1000 * fake_cpu / max(len(accepted), 1),
            "exit": command.returncode, "summary": summary, "stderr": command.stderr[-2000:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench notices", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="customer counts, comma-separated")
    parser.add_argument("--workers", type=int, default=4, help="worker processes beside the command")
    parser.add_argument("--rate", type=int, default=200, help="NOTICE_RATE_PER_SECOND")
    parser.add_argument("--latency", type=float, default=0.05, help="the fake LINE's answer delay, seconds")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    print(f"bill notices: {args.workers} workers + the command, NOTICE_RATE_PER_SECOND={args.rate}, "
          f"fake LINE latency {args.latency * 1000:.0f} ms", flush=True)
    status = 0
    for size in (int(s) for s in args.sizes.split(",")):
        result = run_size(size, args.workers, args.rate, args.latency)
        print(f"{result['customers']:>8,} customers: {result['accepted']:,} pushes in {result['wall']:.1f} s "
              f"(seeded in {result['seeded']:.1f} s); achieved {result['rate']:.0f}/s against the limit of "
              f"{args.rate}/s ({result['rate'] / args.rate:.0%}); duplicates {result['duplicates']}; "
              f"peak memory: command {result['command_peak_mb']:.0f} MB, largest worker "
              f"{result['worker_peak_mb']:.0f} MB; CPU per notice: {result['cpu_ms']:.1f} ms sending "
              f"(workers + command), {result['fake_cpu_ms']:.1f} ms the fake LINE", flush=True)
        print(f"          {result['summary']}", flush=True)
        print(f"          command resident memory over time (MB): {result['rss_trace']}", flush=True)
        if result["exit"] != 0:
            print(result["stderr"], file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
