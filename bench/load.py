"""``python -m bench load``: the service as deployed, under load, against two yardsticks, in one run.

Starts, each in a process of its own: the fake LINE (``bench.fakeline``), the bot's gunicorn
(``gunicorn.conf.py``, 2 workers × 4 threads), ``flask --app app worker`` (``--threads``
event consumers), the SDK-README echo bot (``bench.echo_app``) under the same gunicorn
settings, and, per measurement, the load generator (``bench.loadgen``). PostgreSQL gets a
throwaway database (migrated, seeded with ``--customers`` customers, ``--linked`` of them
with an active account linked to a LINE user and two months of statements); Redis uses DB
``BENCH_REDIS_URL`` (default 6, flushed before and after).

Series, interleaved round by round so that drift (other people's work on a shared machine)
hits them alike: ``floor`` (the bot's gunicorn answering LINE's Verify body: the signature
check alone), ``echo`` (the echo bot, reply inside the request), ``bill`` (``今月の料金`` from
linked customers, webhook + worker, timed until the fake LINE has the reply), ``register``
(a new user's 登録 → お客様番号 → 電話番号 → カナ氏名, the last being the verification).
CPU per request is read from ``/proc/<pid>/stat`` (utime+stime) of the gunicorn master and
its workers, and of the worker process, around each measurement.

Then, unless ``--growth 0``: the bill and verification latency at 2 connections with the
seeded customers, again after bulk-inserting customers up to ``--growth`` (default
1,000,000, each with an account, a LINE link and a statement), with the query plans.
With ``--profile``: py-spy records the web and worker processes during a bill run
(``--gil`` and without) and the summary goes into the results.

Then the bursts (issue 22; ``--only bursts`` runs just these), open loop as LINE delivers a
rush: ``crowd`` (``--crowd`` distinct linked customers, one 今月の料金 each) and ``flood``
(``--flood-users`` customers, ``--flood-per-user`` messages each), each sent over
``--send-seconds`` with ``--bystanders`` other customers sending one message meanwhile,
interleaved round by round with the echo bot (closed loop) as the CPU baseline: answers a
second, the time until the last answer, replies and pushes as the fake LINE counted them, the
bystanders' wait, CPU per message, each partition's backlog, and py-spy of the worker during
the first round's bursts (``bench/results/profiles/``). Then the scale-out: the crowd again
with 1 … ``--scale`` worker processes, interleaved, the drain rate after the last send being
the workers' own. ``--reply-max-age`` shortens the reply token's life for the service, so a
backlog that outlives the tokens (answers by push) shows at a size this machine can queue.
Results: ``bench/results/load.md``, ``load.json``, ``load.png``, ``load-bursts.png``
(``load-<label>…`` with ``--label``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import psycopg
import redis as redis_lib

from bench.common import throwaway_database

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
CHANNEL_SECRET = "bench-channel-secret"
ACCESS_TOKEN = "bench-access-token"
KANA = "アイコム\u3000タロウ"
TICK = os.sysconf("SC_CLK_TCK")
SERIES = ("floor", "echo", "bill", "register")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def line_user(i: int) -> str:
    return "U" + format(i, "032x")


def customer_number(i: int) -> str:
    return str(10_000_000 + i)


def phone(i: int) -> str:
    return "0748" + format(i % 1_000_000, "06d")


# -- seeding (plain SQL: a million customers in seconds, not minutes) -----------------------------
def seed(url: str, first: int, last: int, linked_upto: int, light: bool = False) -> None:
    """Customers ``first..last`` (1-based, inclusive); those up to ``linked_upto`` get an active
    account linked to ``line_user(i)``; every customer gets this month's and last month's
    statement (3 items each) when it is linked, this month's only otherwise. ``light`` (the
    growth rows): this month's statement only, with one item."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    items = "(1, 'ケーブルテレビ 基本料金', 3300)" if light else (
        "(1, 'ケーブルテレビ 基本料金', 3300), (2, 'インターネット 1Gコース', 5170), (3, 'セット割引', -550)")
    previous_upto = first - 1 if light else linked_upto
    sql = f"""
    INSERT INTO customers (id, customer_number, phone, name_kana, name, email, created_at, updated_at)
      SELECT i, (10000000 + i)::text, '0748' || lpad((i % 1000000)::text, 6, '0'), '{KANA}', NULL, NULL, now(), now()
      FROM generate_series({first}, {last}) AS i;
    INSERT INTO statements (id, customer_id, billing_month, due_date, payment_method, total, imported_at)
      SELECT i * 2, i, date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo')::date,
             (date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') + interval '26 days')::date,
             '口座振替', 8470 + (i % 7) * 110, now()
      FROM generate_series({first}, {last}) AS i;
    INSERT INTO statements (id, customer_id, billing_month, due_date, payment_method, total, imported_at)
      SELECT i * 2 + 1, i, (date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') - interval '1 month')::date,
             (date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') - interval '4 days')::date,
             '口座振替', 8470, now()
      FROM generate_series({first}, LEAST({last}, {previous_upto})) AS i;
    INSERT INTO statement_items (statement_id, position, name, amount)
      SELECT s.id, p.position, p.name, p.amount FROM statements s
      CROSS JOIN (VALUES {items}) AS p(position, name, amount)
      WHERE s.customer_id BETWEEN {first} AND {last};
    INSERT INTO accounts (id, customer_id, login_id, login_id_key, email, nickname, password_hash, status,
                          session_version, created_at, activated_at)
      SELECT i, i, 'bench_' || i, 'bench_' || i, 'bench' || i || '@example.jp', 'ベンチ', 'x', 'active', 1, now(), now()
      FROM generate_series({first}, LEAST({last}, {linked_upto})) AS i;
    INSERT INTO line_links (account_id, line_user_id, notices_enabled, linked_at)
      SELECT i, 'U' || lpad(to_hex(i), 32, '0'), true, now()
      FROM generate_series({first}, LEAST({last}, {linked_upto})) AS i;
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)
        for table in ("customers", "statements", "statement_items", "accounts", "line_links"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.execute("ANALYZE")


def plans(url: str, user_id: str) -> list[str]:
    """EXPLAIN of the statements a bill turn and a verification run: the turn's own SQL
    (``storage.bills``, ``storage.handoffs``, as compiled for PostgreSQL), and the customer
    lookup of the verification."""
    from sqlalchemy.dialects import postgresql

    from storage import bills, handoffs

    def compiled(prepared) -> str:
        return str(prepared.statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": False}))

    month = time.strftime("%Y-%m-01")
    queries = [
        ("open handoff (every message)", compiled(handoffs._OPEN_ID_LOCKED), {"u": user_id}),
        ("linked account + statement + items (one query)", compiled(bills._LINKED_BILL),
         {"line_user_id": user_id, "month": month}),
        ("customer by number (verification)", "SELECT * FROM customers WHERE customer_number = %(n)s",
         {"n": "10000500"}),
    ]
    out = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for label, query, params in queries:
            rows = conn.execute("EXPLAIN " + query, params).fetchall()
            nodes = [r[0].strip() for r in rows if "Scan" in r[0] or "Join" in r[0] or "Loop" in r[0]]
            out.append(f"{label}: " + " / ".join(nodes or [rows[0][0].strip()]))
    return out


# -- processes ----------------------------------------------------------------------------------------
class Fleet:
    """Every process the benchmark started, stopped (and waited for) at the end whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.workdir = workdir

    def start(self, name: str, argv: list[str], env: dict, wait_for=None, stdout=None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout or log, stderr=log, start_new_session=True)
        self.procs.append((name, proc))
        if wait_for is not None:
            deadline = time.monotonic() + 60
            while not wait_for():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench load: {name} did not start; see {self.workdir / (name + '.log')}:\n"
                                     + (self.workdir / f"{name}.log").read_text()[-3000:])
                time.sleep(0.2)
        return proc

    def stop_one(self, proc: subprocess.Popen) -> None:
        """Stop one process (SIGTERM: a worker finishes its turn and gives its leases back)."""
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs = [(name, p) for name, p in self.procs if p is not proc]

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def listening(port: int, path: str = "/") -> callable:
    def check() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return True
        except urllib.error.HTTPError:
            return True  # answering
        except OSError:
            return False
    return check


def family(pid: int) -> list[int]:
    """``pid`` and its children (gunicorn's workers)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    pids.append(int(entry))
            except (OSError, IndexError):
                continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
            # utime, stime, and cutime, cstime: the CPU of children already reaped (gunicorn's
            # workers recycled after max_requests), which would otherwise vanish from the sums.
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except OSError:
            continue
    return total / TICK


# -- measuring ------------------------------------------------------------------------------------------
def measure(series: str, conns: int, ctx: dict, duration: float) -> dict:
    port = ctx["echo_port"] if series == "echo" else ctx["web_port"]
    kind = {"floor": "verify", "echo": "echo", "bill": "bill", "register": "register"}[series]
    users = ctx["register_file"] if series == "register" else ctx["users_file"]
    web = family(ctx["echo_pid"] if series == "echo" else ctx["web_pid"])
    worker = list(ctx["worker_pids"]) if series in ("bill", "register") else []
    fake = [ctx["fake_pid"]]
    before = (cpu_seconds(web), cpu_seconds(worker), cpu_seconds(fake))
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", "--port", str(port), "--notify-port",
                          str(ctx["notify_port"]), "--kind", kind, "--conns", str(conns), "--duration", str(duration),
                          "--users", users, "--rate-guess", "2500" if series in ("floor", "echo") else "600"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    after = (cpu_seconds(web), cpu_seconds(worker), cpu_seconds(fake))
    if out.returncode != 0:
        raise SystemExit(f"bench load: the load generator failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout)
    turns = max(1, result["completed"])
    result.update(series=series, web_cpu_ms=(after[0] - before[0]) * 1000 / turns,
                  worker_cpu_ms=(after[1] - before[1]) * 1000 / turns,
                  fake_cpu_share=(after[2] - before[2]) / max(0.1, result["elapsed"]))
    result["cpu_ms"] = result["web_cpu_ms"] + result["worker_cpu_ms"]
    return result


def combine(runs: list[dict]) -> dict:
    """Rounds of one series at one concurrency: rates and CPU are averaged (weighted), latency
    percentiles taken from the worst round (conservative)."""
    completed = sum(r["completed"] for r in runs)
    out = {
        "series": runs[0]["series"], "conns": runs[0]["conns"], "rounds": len(runs),
        "rps": sum(r["rps"] for r in runs) / len(runs),
        "cpu_ms": sum(r["cpu_ms"] * r["completed"] for r in runs) / max(1, completed),
        "web_cpu_ms": sum(r["web_cpu_ms"] * r["completed"] for r in runs) / max(1, completed),
        "worker_cpu_ms": sum(r["worker_cpu_ms"] * r["completed"] for r in runs) / max(1, completed),
        "lost": sum(r["lost"] for r in runs), "errors": sum(r["errors"] for r in runs),
        "over_2s": sum(r["over_2s"] for r in runs), "completed": completed,
        "reconnects": sum(r.get("reconnects", 0) for r in runs),
        "loadgen_cpu_ms": max(r["loadgen_cpu_ms_per_request"] for r in runs),
        "loadgen_share": max(r["loadgen_cpu_share"] for r in runs),
        "fake_share": max(r["fake_cpu_share"] for r in runs),
    }
    for key in ("webhook", "e2e"):
        with_data = [r[key] for r in runs if r[key].get("n")]
        out[key] = {q: max(d[q] for d in with_data) for q in ("p50", "p95", "p99", "max")} if with_data else {}
    steps = defaultdict(list)
    for r in runs:
        for name, d in r.get("steps", {}).items():
            if d.get("n"):
                steps[name].append(d)
    out["steps"] = {k: {q: max(d[q] for d in v) for q in ("p50", "p95", "p99", "max")} for k, v in steps.items()}
    return out


# -- bursts: a crowd, a flood, and the scale-out ----------------------------------------------------------
def queued_events(ctx: dict) -> int:
    """Events waiting in every partition of the queue (Redis)."""
    client = redis_lib.Redis.from_url(REDIS_URL)
    try:
        return sum(int(client.xlen(f"bot:events:{p}")) for p in range(ctx["partitions"]))
    finally:
        client.close()


def wait_drained(ctx: dict, timeout: float = 120.0) -> None:
    """Wait until the queue is empty (a burst's leftovers must not fall into the next one)."""
    deadline = time.monotonic() + timeout
    while queued_events(ctx) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)  # the last pushes' jobs


def burst(series: str, ctx: dict, args, profile_as: str = "") -> dict:
    """One open-loop burst (``bench.loadgen --kind burst``): ``crowd`` (``--crowd`` distinct
    customers, one 今月の料金 each) or ``flood`` (``--flood-users`` customers, ``--flood-per-user``
    each), both over ``--send-seconds``, with ``--bystanders`` others sending one message each
    meanwhile. CPU per message of the web and worker processes, over the whole burst."""
    users = ctx["crowd_file"] if series == "crowd" else ctx["flood_file"]
    per_user = 1 if series == "crowd" else args.flood_per_user
    web, workers, fake = family(ctx["web_pid"]), list(ctx["worker_pids"]), [ctx["fake_pid"]]
    wait_drained(ctx)
    servers = by_name("postgres") + by_name("redis-server")
    stats0 = fake_stats(ctx)
    machine0, servers0 = machine_cpu(), cpu_seconds(servers)
    spies = start_spies(ctx, profile_as) if profile_as else []
    logs0 = {pid: log_size(ctx, pid) for pid in workers}
    sampler = PartitionSampler(ctx)
    sampler.start()
    before = (cpu_seconds(web), cpu_seconds(workers), cpu_seconds(fake))
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", "--port", str(ctx["web_port"]), "--notify-port",
                          str(ctx["notify_port"]), "--kind", "burst", "--conns", "64", "--users", users,
                          "--per-user", str(per_user), "--send-seconds", str(args.send_seconds),
                          "--bystanders", ctx["bystanders_file"], "--idle", "30"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    after = (cpu_seconds(web), cpu_seconds(workers), cpu_seconds(fake))
    elapsed = time.monotonic() - started
    machine1, servers1 = machine_cpu(), cpu_seconds(servers)
    partitions = sampler.stop()
    profiles = stop_spies(spies, ctx.get("label") or "load")
    if out.returncode != 0:
        raise SystemExit(f"bench load: the load generator failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout)
    stats1 = fake_stats(ctx)
    messages = max(1, result["messages"])  # each message handled (answered, or answered once as a flood)
    result.update(series=series, workers=len(workers),
                  web_cpu_ms=(after[0] - before[0]) * 1000 / messages,
                  worker_cpu_ms=(after[1] - before[1]) * 1000 / messages,
                  fake_cpu_share=(after[2] - before[2]) / max(0.1, elapsed),
                  line_replies=stats1["replies"] - stats0["replies"], line_pushes=stats1["pushes"] - stats0["pushes"],
                  line_loading=stats1["loading"] - stats0["loading"],
                  # Cores busy on average during the burst: the whole machine (shared with other
                  # people's work), the worker processes, PostgreSQL and Redis (all their clients').
                  machine_busy_cores=(machine1[0] - machine0[0]) / max(0.1, elapsed),
                  machine_cores=os.cpu_count(),
                  worker_cores=(after[1] - before[1]) / max(0.1, elapsed),
                  servers_cores=(servers1 - servers0) / max(0.1, elapsed))
    result["cpu_ms"] = result["web_cpu_ms"] + result["worker_cpu_ms"]
    result["partitions"] = partitions
    result["coalesced"], result["told"] = flood_lines(ctx, logs0)
    # Every message handled (answered, or answered once as a flood) once the queue is empty.
    handled_after = partitions.get("emptied_last") or result["elapsed"]
    result["handled_per_second"] = result["messages"] / max(0.1, handled_after)
    if profiles:
        result["profile"] = profiles
    return result


class PartitionSampler:
    """Every partition's backlog (XLEN) twice a second during a burst: how deep each got and
    when each emptied, seconds from the start (a burst held up by a few partitions shows here)."""

    def __init__(self, ctx: dict, every: float = 0.5) -> None:
        import threading

        self.ctx, self.every = ctx, every
        self.samples: list[tuple[float, list[int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        client = redis_lib.Redis.from_url(REDIS_URL)
        try:
            owners = [client.get(f"bot:events:{p}:lease") for p in range(self.ctx["partitions"])]
            self.owners = [o.decode() if isinstance(o, bytes) else (o or "") for o in owners]
            while not self._stop.wait(self.every):
                pipe = client.pipeline(transaction=False)
                for p in range(self.ctx["partitions"]):
                    pipe.xlen(f"bot:events:{p}")
                self.samples.append((time.monotonic() - self._started, [int(n) for n in pipe.execute()]))
        finally:
            client.close()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return {}
        count = self.ctx["partitions"]
        peak = [max(depths[p] for _t, depths in self.samples) for p in range(count)]
        emptied = []
        for p in range(count):
            last_busy = max((t for t, depths in self.samples if depths[p]), default=0.0)
            emptied.append(round(last_busy + self.every, 1) if peak[p] else 0.0)
        busy = sorted(e for e, top in zip(emptied, peak, strict=True) if top)
        # How evenly the burst fell on the consumers (each serves its partitions one event at a
        # time): the busiest one's share of the deepest backlogs against an even share.
        load: dict[str, int] = {}
        for owner, top in zip(getattr(self, "owners", [""] * count), peak, strict=True):
            load[owner] = load.get(owner, 0) + top
        total = sum(load.values())
        return {"peak": peak, "emptied": emptied,
                "emptied_median": busy[len(busy) // 2] if busy else 0.0, "emptied_last": busy[-1] if busy else 0.0,
                "consumers": len(load),
                "busiest_consumer_share": round(max(load.values()) / total, 3) if total else 0.0}


FLOOD_LINE = re.compile(r"(\d+) stale messages from \S+ \(a flood\) answered once( already)?")


def log_size(ctx: dict, pid: int) -> int:
    path = ctx["worker_logs"].get(pid)
    return path.stat().st_size if path and path.exists() else 0


def flood_lines(ctx: dict, since: dict[int, int]) -> tuple[int, int]:
    """Messages the workers answered once as a flood since ``since`` (log offsets), and how
    many times a person was told so (``handlers.line.worker.FLOOD_WAITING``)."""
    coalesced = told = 0
    for pid, offset in since.items():
        path = ctx["worker_logs"].get(pid)
        if not path or not path.exists():
            continue
        with open(path, "rb") as stream:
            stream.seek(offset)
            text = stream.read().decode("utf-8", "replace")
        for match in FLOOD_LINE.finditer(text):
            coalesced += int(match.group(1))
            told += match.group(2) is None
    return coalesced, told


def by_name(name: str) -> list[int]:
    """Every process whose command name is ``name`` (the database and Redis servers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as stream:
                    if stream.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU the whole machine spent busy and idle so far (``/proc/stat``)."""
    with open("/proc/stat") as stream:
        fields = [int(v) for v in stream.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / TICK, idle / TICK


def fake_stats(ctx: dict) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ctx['fake_port']}/bench/stats").read())


def start_spies(ctx: dict, label: str) -> list:
    """py-spy on the (first) worker process during a burst, with ``--gil`` and without (two
    samplers at once: the same turns seen both ways); stopped by SIGINT at the burst's end."""
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not pyspy:
        return []
    spies = []
    for gil in (False, True):
        raw = ctx["workdir"] / f"pyspy-{label}-{'gil' if gil else 'all'}.txt"
        argv = [pyspy, "record", "--pid", str(ctx["worker_pids"][0]), "--rate", "100", "--format", "raw",
                "--output", str(raw), "--nonblocking"] + (["--gil"] if gil else [])
        spies.append((f"worker{' --gil' if gil else ''}", raw,
                      subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    return spies


def stop_spies(spies: list, label: str) -> dict:
    """Stop the samplers; summarise, and keep the raw stacks as ``profiles/<label>-<series>-….txt.gz``."""
    summaries = {}
    for key, raw, proc in spies:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
        summaries[key] = summarise(raw) if raw.exists() else {"error": err.decode()[-500:]}
        if raw.exists():  # the raw stacks, for flame graphs (py-spy's raw format, gzipped)
            keep = RESULTS / "profiles"
            keep.mkdir(parents=True, exist_ok=True)
            with open(raw, "rb") as source, gzip.open(keep / f"{label}{raw.name[5:]}.gz", "wb") as target:
                shutil.copyfileobj(source, target)
    return summaries


def combine_bursts(runs: list[dict]) -> dict:
    """Rounds of one burst series: rates, times and CPU averaged; latencies from the worst round."""
    n = len(runs)
    out = {"series": runs[0]["series"], "rounds": n, "workers": runs[0]["workers"],
           "messages": runs[0]["messages"], "users": runs[0]["users"], "per_user": runs[0]["per_user"]}
    for key in ("answers_per_second", "drain_after_send_per_second", "last_answer_after_send", "send_seconds",
                "handled_per_second",
                "cpu_ms", "web_cpu_ms", "worker_cpu_ms", "fake_cpu_share", "machine_busy_cores", "worker_cores",
                "servers_cores"):
        out[key] = sum(r[key] for r in runs) / n
    out["rates"] = [r["answers_per_second"] for r in runs]
    out["last_answers"] = [r["last_answer_after_send"] for r in runs]
    for key in ("answered", "lost", "replies", "pushes", "line_replies", "line_pushes", "line_loading",
                "passed_over", "unmatched", "errors", "coalesced", "told"):
        out[key] = sum(r[key] for r in runs)
    for key in ("webhook", "e2e", "bystander_e2e"):
        with_data = [r[key] for r in runs if r[key].get("n")]
        out[key] = {q: max(d[q] for d in with_data) for q in ("p50", "p95", "p99", "max")} if with_data else {}
    parts = [r["partitions"] for r in runs if r.get("partitions")]
    if parts:
        out["partition_emptied_median"] = sum(p["emptied_median"] for p in parts) / len(parts)
        out["partition_emptied_last"] = sum(p["emptied_last"] for p in parts) / len(parts)
        out["partition_peak_max"] = max(max(p["peak"]) for p in parts)
        out["partition_peak_median"] = sorted(parts[0]["peak"])[len(parts[0]["peak"]) // 2]
        out["busiest_consumer_share"] = max(p.get("busiest_consumer_share", 0.0) for p in parts)
        out["consumers"] = parts[0].get("consumers", 0)
    out["timeline"] = max((r["timeline"] for r in runs), key=len)  # the slowest round's curve
    out["timeline_step"] = runs[0]["timeline_step"]
    return out


def run_bursts(ctx: dict, args) -> dict:
    """Rounds of echo (the CPU baseline, closed loop), crowd and flood, interleaved."""
    print(f"bursts: {args.bursts} rounds × (echo, crowd {args.crowd}×1, flood {args.flood_users}"
          f"×{args.flood_per_user}) over {args.send_seconds:.0f} s, {args.bystanders} bystanders; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    raw: dict = defaultdict(list)
    for round_number in range(args.bursts):
        raw["echo"].append(measure("echo", 64, ctx, args.duration))
        for series in ("crowd", "flood"):
            profile_as = series if args.profile and round_number == 0 else ""
            result = burst(series, ctx, args, profile_as)
            raw[series].append(result)
            print(f"  round {round_number + 1} {series:6} {result['answers_per_second']:6.1f} answers/s, "
                  f"last {result['last_answer_after_send']:5.1f} s after the last send, replies "
                  f"{result['replies']} pushes {result['pushes']} lost {result['lost']}, cpu "
                  f"{result['cpu_ms']:.2f} ms, bystanders p50 {result['bystander_e2e'].get('p50', 0):.0f} ms "
                  f"max {result['bystander_e2e'].get('max', 0):.0f} ms", flush=True)
    out = {"echo": combine(raw["echo"])}
    out.update({series: combine_bursts(raw[series]) for series in ("crowd", "flood")})
    out["profiles"] = {series: raw[series][0]["profile"] for series in ("crowd", "flood")
                       if raw[series] and "profile" in raw[series][0]}
    out["raw"] = {series: [{k: v for k, v in r.items() if k not in ("timeline", "profile")} for r in runs]
                  for series, runs in raw.items() if series != "echo"}
    return out


def run_scale(ctx: dict, fleet: Fleet, args) -> dict:
    """The crowd burst with 1, 2 … ``--scale`` worker processes (each ``--threads`` consumers),
    interleaved; the rate that counts is the drain after the last send (only the workers busy)."""
    raw: dict = defaultdict(list)
    first = ctx["worker_pids"][:1]
    print(f"scale-out: crowd bursts with 1..{args.scale} worker processes, {args.scale_rounds} rounds", flush=True)
    for round_number in range(args.scale_rounds):
        for count in range(1, args.scale + 1):
            extra = [start_worker(fleet, ctx, args, f"worker-scale-{round_number}-{n}") for n in range(1, count)]
            ctx["worker_pids"] = first + [p.pid for p in extra]
            time.sleep(max(3.0, ctx["lease_seconds"] / 5 + 1))  # the consumers share the partitions out
            result = burst("crowd", ctx, args)
            raw[count].append(result)
            print(f"  round {round_number + 1} workers {count}: drain {result['drain_after_send_per_second']:6.1f}/s"
                  f" ({result['answered_after_send']} after the last send), overall "
                  f"{result['answers_per_second']:.1f}/s, cpu {result['cpu_ms']:.2f} ms", flush=True)
            for proc in extra:
                fleet.stop_one(proc)
            ctx["worker_pids"] = first
    return {str(count): combine_bursts(runs) | {"drains": [r["drain_after_send_per_second"] for r in runs]}
            for count, runs in raw.items()}


def start_worker(fleet: Fleet, ctx: dict, args, name: str) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    proc = fleet.start(name, [str(bin_dir / "flask"), "--app", "app", "worker", "--threads", str(args.threads)],
                       ctx["env"])
    ctx["worker_logs"][proc.pid] = ctx["workdir"] / f"{name}.log"
    return proc


def profile(ctx: dict, workdir: Path, seconds: int) -> dict:
    """py-spy over a bill run: the worker and one web worker, with --gil and without; a dump of the worker."""
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not pyspy:
        return {"error": "py-spy not installed"}
    web_workers = family(ctx["web_pid"])[1:]
    summaries: dict = {}
    for gil in (False, True):
        jobs = []
        web_pid = web_workers[0] if web_workers else ctx["web_pid"]
        for name, pid in (("worker", ctx["worker_pids"][0]), ("web", web_pid)):
            raw = workdir / f"pyspy-{name}-{'gil' if gil else 'all'}.txt"
            argv = [pyspy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                    "--format", "raw", "--output", str(raw), "--nonblocking"] + (["--gil"] if gil else [])
            jobs.append((name, raw, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
        measure("bill", 16, ctx, seconds)
        for name, raw, proc in jobs:
            _out, err = proc.communicate(timeout=60)
            key = f"{name}{' --gil' if gil else ''}"
            summaries[key] = summarise(raw) if raw.exists() else {"error": err.decode()[-500:]}
    dump = subprocess.run([pyspy, "dump", "--pid", str(ctx["worker_pids"][0])], capture_output=True, text=True,
                          check=False)
    summaries["dump"] = dump.stdout[-4000:] or dump.stderr[-1000:]
    return summaries


BUCKETS = (("pydantic / line-bot-sdk models",
            ("pydantic", "linebot/v3/messaging/models", "linebot/v3/webhooks/models")),
           ("line-bot-sdk (rest)", ("linebot",)),
           ("SQLAlchemy", ("sqlalchemy",)), ("psycopg", ("psycopg",)), ("redis-py", ("redis/",)),
           ("urllib3 / http.client", ("urllib3", "http/client")), ("json", ("json/", "orjson")),
           ("threading", ("threading.py",)), ("logging", ("logging/",)), ("flask / werkzeug", ("flask", "werkzeug")),
           ("RQ (jobs)", ("rq/",)), ("our code", ("bot/", "storage/", "handlers/")))


def summarise(raw: Path) -> dict:
    """Share of samples whose stack passes through each bucket (inclusive), and the top leaf frames."""
    total = 0
    inclusive: dict[str, int] = defaultdict(int)
    leaves: dict[str, int] = defaultdict(int)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for label, needles in BUCKETS:
            if any(any(needle in f for needle in needles) for f in frames):
                inclusive[label] += n
        leaves[frames[-1][:110]] += n
    share = lambda v: round(v / max(1, total), 3)  # noqa: E731
    return {"samples": total,
            "inclusive": {k: share(v) for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])},
            "top_leaves": [(k, share(v)) for k, v in sorted(leaves.items(), key=lambda kv: -kv[1])[:12]]}


def growth(ctx: dict, url: str, customers: int, target: int, duration: float) -> dict:
    out: dict = {}

    def sample(label: str) -> None:
        bill = [measure("bill", 2, ctx, duration) for _ in range(2)]
        reg = [measure("register", 2, ctx, duration) for _ in range(2)]
        out[label] = {"bill": combine(bill), "register": combine(reg), "plans": plans(url, line_user(1))}

    sample(f"{customers:,} customers")
    started = time.monotonic()
    seed(url, customers + 1, target, linked_upto=target, light=True)
    out["insert_seconds"] = round(time.monotonic() - started, 1)
    sample(f"{target:,} customers")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--linked", type=int, default=400, help="customers linked to a LINE user (bill turns)")
    parser.add_argument("--threads", type=int, default=4, help="event consumer threads of the worker")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    parser.add_argument("--growth", type=int, default=1_000_000, help="customers for the growth check (0: skip)")
    parser.add_argument("--profile", type=int, default=5, metavar="SECONDS",
                        help="py-spy the bill turn this long (0: skip)")
    parser.add_argument("--label", default="", help="a name for this run in the results (e.g. before/after)")
    parser.add_argument("--only", choices=("all", "classic", "bursts"), default="all",
                        help="classic: the closed-loop series, growth and profile; bursts: crowd, flood, scale-out")
    parser.add_argument("--bursts", type=int, default=2, help="rounds of echo / crowd / flood")
    parser.add_argument("--crowd", type=int, default=9600, help="distinct customers in the crowd (one message each)")
    parser.add_argument("--flood-users", type=int, default=32, help="customers in the flood")
    parser.add_argument("--flood-per-user", type=int, default=300, help="messages each flooding customer sends")
    parser.add_argument("--send-seconds", type=float, default=8.0, help="a burst's messages are sent over this long")
    parser.add_argument("--bystanders", type=int, default=64,
                        help="other customers sending one message each during a burst")
    parser.add_argument("--scale", type=int, default=2, help="worker processes for the scale-out series (1: skip)")
    parser.add_argument("--scale-rounds", type=int, default=2)
    parser.add_argument("--reply-max-age", type=int, default=0, metavar="SECONDS",
                        help="REPLY_TOKEN_MAX_AGE_SECONDS for the service (0: its default, 50): a shorter life "
                             "shows the pushes of a backlog that outlives the tokens at a size this machine queues")
    parser.add_argument("--render", nargs="+", metavar="JSON",
                        help="only write the report and charts again from saved results (no run)")
    parser.add_argument("--compare", nargs="+", metavar="JSON",
                        help="only compare the bursts of saved results (before/after): "
                             "bench/results/bursts-<label>.md and .png (no run)")
    args = parser.parse_args(argv)
    if args.render or args.compare:
        for path in args.render or []:
            saved = json.loads(Path(path).read_text())
            write(saved, argparse.Namespace(label=saved.get("label", "")), json_too=False)
        if args.compare:
            compare([json.loads(Path(path).read_text()) for path in args.compare], args.label or "compare")
        return 0
    if args.only == "bursts":
        args.growth = 0

    workdir = Path(tempfile.mkdtemp(prefix="aicom-bench-"))
    fleet = Fleet(workdir)
    client = redis_lib.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        with throwaway_database() as url:
            seed(url, 1, args.customers, args.linked)
            if args.only != "classic":  # the crowd: linked customers of their own
                seed(url, args.customers + 1, args.customers + args.crowd, args.customers + args.crowd)
            ctx = start_fleet(fleet, workdir, url, args)
            results = run(ctx, url, args, workdir, fleet)
            write(results, args)
    finally:
        fleet.stop()
        client.flushdb()
        client.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def start_fleet(fleet: Fleet, workdir: Path, url: str, args) -> dict:
    bin_dir = Path(sys.executable).parent
    fake_port, web_port, echo_port, notify_port = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=url, REDIS_URL=REDIS_URL,
               SECRET_KEY=secrets.token_hex(32),
               LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
               LINE_API_BASE_URL=f"http://127.0.0.1:{fake_port}", PUBLIC_BASE_URL="http://127.0.0.1:8000",
               EMULATOR="0", SMTP_URL="smtp://127.0.0.1:25", WEB_CONCURRENCY="2",
               GUNICORN_THREADS="4", EVENT_WORKER_THREADS=str(args.threads))
    for name in ("DEMO_DEFAULTS", "PROMETHEUS_MULTIPROC_DIR", "JOBS_INLINE", "EVENTS_INLINE",
                 "REPLY_TOKEN_MAX_AGE_SECONDS"):
        env.pop(name, None)
    if args.reply_max_age:
        env["REPLY_TOKEN_MAX_AGE_SECONDS"] = str(args.reply_max_age)
    fake = fleet.start("fakeline", [sys.executable, "-m", "bench.fakeline", str(fake_port), str(notify_port)], env,
                       wait_for=listening(fake_port, "/bench/stats"))
    web = fleet.start("web", [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
                      dict(env, GUNICORN_BIND=f"127.0.0.1:{web_port}"), wait_for=listening(web_port, "/healthz"))
    echo = fleet.start("echo", [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "bench.echo_app:app"],
                       dict(env, GUNICORN_BIND=f"127.0.0.1:{echo_port}"), wait_for=listening(echo_port, "/"))
    worker = fleet.start("worker", [str(bin_dir / "flask"), "--app", "app", "worker", "--threads", str(args.threads)],
                         env)
    users_file, register_file = workdir / "users.json", workdir / "register.json"
    users_file.write_text(json.dumps([line_user(i) for i in range(1, args.linked + 1)]))
    # Bursts: the flood's customers are the first linked ones, the bystanders the next ones, the
    # crowd the customers seeded after the classic ones.
    crowd_file, flood_file, bystanders_file = (workdir / "crowd.json", workdir / "flood.json",
                                               workdir / "bystanders.json")
    crowd_file.write_text(json.dumps([line_user(i) for i in range(args.customers + 1,
                                                                   args.customers + args.crowd + 1)]))
    flood_file.write_text(json.dumps([line_user(i) for i in range(1, args.flood_users + 1)]))
    bystanders_file.write_text(json.dumps([line_user(i) for i in range(args.flood_users + 1,
                                                                       args.flood_users + args.bystanders + 1)]))
    register_file.write_text(json.dumps([[customer_number(i), phone(i), KANA]
                                         for i in range(args.linked + 1, args.customers + 1)]))
    ctx = {"fake_port": fake_port, "web_port": web_port, "echo_port": echo_port, "notify_port": notify_port,
           "fake_pid": fake.pid, "web_pid": web.pid, "echo_pid": echo.pid, "worker_pids": [worker.pid],
           "worker_logs": {worker.pid: workdir / "worker.log"},
           "users_file": str(users_file), "register_file": str(register_file), "crowd_file": str(crowd_file),
           "flood_file": str(flood_file), "bystanders_file": str(bystanders_file), "env": env, "workdir": workdir,
           "partitions": int(env.get("EVENT_PARTITIONS", "16")),
           "lease_seconds": float(env.get("EVENT_LEASE_SECONDS", "15")), "label": args.label}
    time.sleep(2)  # the worker's consumers take their leases
    for series in SERIES:  # warm every process (imports, pools, compiled statements)
        measure(series, 4, ctx, 1.5)
    return ctx


def run(ctx: dict, url: str, args, workdir: Path, fleet: Fleet) -> dict:
    results = {"label": args.label, "machine": machine(), "load_before": os.getloadavg(), "series": {},
               "settings": {k: v for k, v in vars(args).items()}}
    if args.only != "bursts":
        results.update(run_classic(ctx, url, args, workdir))
    if args.only != "classic":
        if args.bursts:
            results["bursts"] = run_bursts(ctx, args)
        if args.scale > 1:
            results["scale"] = run_scale(ctx, fleet, args)
    results["fake"] = {"stats": fake_stats(ctx),
                       "refused": json.loads(urllib.request.urlopen(
                           f"http://127.0.0.1:{ctx['fake_port']}/bench/refused").read())}
    results["load_after"] = os.getloadavg()
    return results


def run_classic(ctx: dict, url: str, args, workdir: Path) -> dict:
    print(f"load test: {args.rounds} rounds × {len(SERIES)} series × 2 concurrencies × {args.duration:.0f} s, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    raw: dict = defaultdict(list)
    for round_number in range(args.rounds):
        for conns in (2, 64):
            for series in SERIES:
                result = measure(series, conns, ctx, args.duration)
                raw[(series, conns)].append(result)
                print(f"  round {round_number + 1} {series:8} c={conns:<3} {result['rps']:7.1f}/s  "
                      f"cpu {result['cpu_ms']:6.2f} ms  lost {result['lost']}", flush=True)
    results = {"series": {f"{s}@{c}": combine(v) for (s, c), v in raw.items()}}
    if args.profile:
        results["profile"] = profile(ctx, workdir, args.profile)
    seeded = args.customers + (args.crowd if args.only != "classic" else 0)
    if args.growth and args.growth > seeded:
        results["growth"] = growth(ctx, url, seeded, args.growth, args.duration)
    return results


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def write(results: dict, args, json_too: bool = True) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "load" + (f"-{args.label}" if args.label else "")
    if json_too:
        (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    text = report(results)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)
    try:
        if results["series"]:
            chart(results, RESULTS / f"{stem}.png")
        if results.get("bursts") or results.get("scale"):
            chart_bursts(results, RESULTS / f"{stem}-bursts.png")
    except ImportError:
        print("(matplotlib not installed: no chart; pip install -r bench/requirements.txt)")


def report(results: dict) -> str:
    m = results["machine"]
    lines = [f"# Load test{' (' + results['label'] + ')' if results['label'] else ''}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, Python {m['python']}; shared with other "
             f"engineers' test runs (load average {results['load_before'][0]:.2f} before, "
             f"{results['load_after'][0]:.2f} after).", ""]
    if results["series"]:
        lines += report_classic(results)
    if results.get("bursts") or results.get("scale"):
        lines += report_bursts(results)
    return "\n".join(lines) + "\n"


def report_classic(results: dict) -> list[str]:
    s = results["series"]
    floor = s.get("floor@64", {})
    lines = ["| series | conns | req/s | ratio to floor | CPU ms/req (web + worker) | CPU ratio floor/series "
             "| webhook p50 / p95 / p99 / max ms | end-to-end p50 / p95 / p99 / max ms | > 2 s | lost | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for conns in (2, 64):
        for series in SERIES:
            r = s.get(f"{series}@{conns}")
            if not r:
                continue
            base = s.get(f"floor@{conns}", floor)
            w, e = r["webhook"], r["e2e"]
            lines.append(
                f"| {series} | {conns} | {r['rps']:.0f} | {r['rps'] / max(1e-9, base['rps']):.2f} "
                f"| {r['cpu_ms']:.2f} ({r['web_cpu_ms']:.2f} + {r['worker_cpu_ms']:.2f}) "
                f"| {base['cpu_ms'] / max(1e-9, r['cpu_ms']):.2f} "
                f"| {w.get('p50', 0):.1f} / {w.get('p95', 0):.1f} / {w.get('p99', 0):.1f} / {w.get('max', 0):.0f} "
                f"| " + (f"{e['p50']:.1f} / {e['p95']:.1f} / {e['p99']:.1f} / {e['max']:.0f}" if e else "–")
                + f" | {r['over_2s']} | {r['lost']} | {r['errors']} |")
    reg = s.get("register@2", {}).get("steps", {})
    if reg:
        lines += ["", "Registration turns at 2 connections, end to end (ms, p50 / p99): "
                  + ", ".join(f"{k} {v['p50']:.1f} / {v['p99']:.1f}" for k, v in reg.items())]
    lines += ["", "CPU ratio = the floor's CPU per request ÷ the series' (the issue's measure; 1.0 = as cheap as "
              "the signature check). Latency percentiles are the worst round's. The load generator's own CPU: "
              f"at most {max(r['loadgen_cpu_ms'] for r in s.values()):.2f} ms per request, "
              f"{max(r['loadgen_share'] for r in s.values()):.0%} of a core; the fake LINE: at most "
              f"{max(r['fake_share'] for r in s.values()):.0%} of a core. Fake LINE: {results['fake']['stats']}. "
              f"Keep-alive connections gunicorn closed (a worker recycled after max_requests), opened again and "
              f"the request sent again: {sum(r['reconnects'] for r in s.values())}."]
    if results["fake"]["refused"]:
        lines += ["", f"Refused by the fake LINE: {results['fake']['refused'][:3]}"]
    g = results.get("growth")
    if g:
        lines += ["", "## Growth", "", f"Bulk insert of the extra customers (account, link, statement, items each): "
                  f"{g['insert_seconds']} s.", "",
                  "| customers | 今月の料金 p50 / p95 / p99 ms | verification turn p50 / p95 / p99 ms "
                  "| CPU ms per bill |",
                  "|---|---|---|---|"]
        for label, d in g.items():
            if not isinstance(d, dict):
                continue
            b, v = d["bill"]["e2e"], d["register"]["steps"].get("verify", {})
            lines.append(f"| {label} | {b['p50']:.1f} / {b['p95']:.1f} / {b['p99']:.1f} "
                         f"| {v.get('p50', 0):.1f} / {v.get('p95', 0):.1f} / {v.get('p99', 0):.1f} "
                         f"| {d['bill']['cpu_ms']:.2f} |")
        for label, d in g.items():
            if isinstance(d, dict):
                lines += ["", f"Query plans with {label}:", ""] + [f"- `{p}`" for p in d["plans"]]
    p = results.get("profile")
    if p:
        lines += ["", "## Profile (py-spy, bill turns at 16 connections)", ""]
        for key, summary in p.items():
            if key == "dump" or "inclusive" not in summary:
                continue
            lines.append(f"- **{key}** ({summary['samples']} samples): " + ", ".join(
                f"{k} {v:.0%}" for k, v in summary["inclusive"].items()))
    return lines


def report_bursts(results: dict) -> list[str]:
    st = results["settings"]
    lines = report_burst_table(results) if results.get("bursts") else []
    sc = results.get("scale")
    if sc:
        lines += report_scale(sc, st)
    return lines


def report_burst_table(results: dict) -> list[str]:
    b = results["bursts"]
    echo = b["echo"]
    st = results["settings"]
    lines = ["## Bursts: a crowd and a flood (open loop)", "",
             f"Crowd: {st['crowd']:,} distinct customers, one 今月の料金 each; flood: {st['flood_users']} customers, "
             f"{st['flood_per_user']} each; both sent over {st['send_seconds']:.0f} s by 64 connections, each "
             f"message signed as it is sent, without waiting for answers; {st['bystanders']} other customers send "
             f"one message each meanwhile (bystanders). {st['bursts']} rounds, interleaved with the echo bot "
             "(closed loop, 64 connections) as the CPU baseline. Answers/s = messages answered ÷ (first send → "
             "last answer); drain = answers after the last send ÷ the time they took (only the workers busy); "
             "handled/s = messages ÷ the time until the queue was empty (a flood answered once counts as handled). "
             f"Reply tokens used up to {st.get('reply_max_age') or 50} s after the message "
             "(`REPLY_TOKEN_MAX_AGE_SECONDS`), pushes after that.", "",
             "| series | messages | answers/s | drain after the sends, /s | last answer after the last send, s "
             "| replies / pushes (LINE saw, all rounds) | lost | passed over | answered once as a flood (told) "
             "| handled/s "
             "| bystanders p50 / max ms | p50 / max ms "
             "| CPU ms per message (web + worker) | CPU ratio echo/series | cores busy: machine / worker / DB+Redis |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for series in ("crowd", "flood"):
        r = b.get(series)
        if not r:
            continue
        by, e = r["bystander_e2e"], r["e2e"]
        rates = " / ".join(f"{x:.0f}" for x in r["rates"])
        lines.append(
            f"| {series} | {r['messages']:,} | {r['answers_per_second']:.0f} ({rates})"
            f" | {r['drain_after_send_per_second']:.0f} | {r['last_answer_after_send']:.1f} "
            f"({' / '.join(f'{x:.1f}' for x in r['last_answers'])}) "
            f"| {r['line_replies']:,} / {r['line_pushes']:,} | {r['lost']} | {r['passed_over']} "
            f"| {r['coalesced']:,} ({r['told']}) | {r['handled_per_second']:.0f} "
            f"| {by.get('p50', 0):.0f} / {by.get('max', 0):.0f} | {e.get('p50', 0):.0f} / {e.get('max', 0):.0f} "
            f"| {r['cpu_ms']:.2f} ({r['web_cpu_ms']:.2f} + {r['worker_cpu_ms']:.2f}) "
            f"| {echo['cpu_ms'] / max(1e-9, r['cpu_ms']):.2f} "
            f"| {r['machine_busy_cores']:.2f} / {r['worker_cores']:.2f} / {r['servers_cores']:.2f} |")
    lines.append(f"| echo bot | closed loop | {echo['rps']:.0f} | | | | {echo['lost']} | | | "
                 f"| | | {echo['e2e'].get('p50', 0):.0f} / {echo['e2e'].get('max', 0):.0f} | {echo['cpu_ms']:.2f} "
                 "| 1.00 | |")
    lines += ["", "Partitions (the queue's backlog sampled twice a second): the deepest and the median peak, and "
              "when the median and the last partition emptied (s from the start)."]
    for series in ("crowd", "flood"):
        r = b.get(series)
        if r and "partition_emptied_last" in r:
            share = (f"; the busiest of {r['consumers']} consumers held {r['busiest_consumer_share']:.0%} of it"
                     if r.get("consumers") else "")
            lines.append(f"- {series}: peak {r['partition_peak_max']:,} (median {r['partition_peak_median']:,}); "
                         f"emptied {r['partition_emptied_median']:.1f} s (median), "
                         f"{r['partition_emptied_last']:.1f} s (last){share}")
    if b.get("crowd") and b.get("flood"):
        flood, crowd = b["flood"], b["crowd"]
        lines += ["", f"Flood ÷ crowd: answers/s {flood['answers_per_second'] / crowd['answers_per_second']:.2f}, "
                  f"CPU per message {flood['cpu_ms'] / crowd['cpu_ms']:.2f}."]
    for series, prof in b.get("profiles", {}).items():
        lines += ["", f"py-spy of the worker during the {series} (whole burst):", ""]
        for key, summary in prof.items():
            if "inclusive" in summary:
                lines.append(f"- **{key}** ({summary['samples']} samples): " + ", ".join(
                    f"{k} {v:.0%}" for k, v in summary["inclusive"].items()))
                lines.append("  top frames: " + "; ".join(f"`{k}` {v:.0%}" for k, v in summary["top_leaves"][:6]))
    return lines


def report_scale(sc: dict, st: dict) -> list[str]:
    lines = []
    if sc:
        one = sc["1"]["drain_after_send_per_second"]
        lines += ["", "## Scale-out: worker processes", "",
                  f"The crowd burst again with 1…{len(sc)} `flask --app app worker` processes ({st['threads']} event "
                  f"threads each), {st['scale_rounds']} rounds interleaved. The drain after the last send is the "
                  "workers' own rate (the web processes are idle by then).", "",
                  "| worker processes | drain after the sends, /s (rounds) | × one process | answers/s overall "
                  "| last answer after the last send, s | CPU ms per message (web + worker) "
                  "| cores busy: machine / workers / DB+Redis |",
                  "|---|---|---|---|---|---|---|"]
        for count, r in sc.items():
            drains = " / ".join(f"{x:.0f}" for x in r["drains"])
            lines.append(f"| {count} | {r['drain_after_send_per_second']:.0f} ({drains})"
                         f" | {r['drain_after_send_per_second'] / max(1e-9, one):.2f} | {r['answers_per_second']:.0f} "
                         f"| {r['last_answer_after_send']:.1f} "
                         f"| {r['cpu_ms']:.2f} ({r['web_cpu_ms']:.2f} + {r['worker_cpu_ms']:.2f}) "
                         f"| {r['machine_busy_cores']:.2f} / {r['worker_cores']:.2f} / {r['servers_cores']:.2f} |")
    return lines


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = results["series"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    names = [n for n in SERIES if f"{n}@64" in s]
    axes[0].bar(names, [s[f"{n}@64"]["rps"] for n in names], color="#4a7")
    axes[0].set_title("requests/s at 64 connections")
    web = [s[f"{n}@2"]["web_cpu_ms"] for n in names]  # 2 connections: no worker recycling in the way
    work = [s[f"{n}@2"]["worker_cpu_ms"] for n in names]
    axes[1].bar(names, web, label="web (gunicorn)", color="#47a")
    axes[1].bar(names, work, bottom=web, label="worker", color="#a74")
    axes[1].set_title("CPU ms per request (2 connections)")
    axes[1].legend()
    for conns, style in ((2, "o-"), (64, "s--")):
        p99 = [(s[f"{n}@{conns}"]["e2e"] or s[f"{n}@{conns}"]["webhook"]).get("p99", 0) for n in names]
        axes[2].plot(names, p99, style, label=f"p99 at {conns} connections")
    axes[2].set_yscale("log")
    axes[2].set_title("p99 ms (end to end where there is a reply)")
    axes[2].legend()
    fig.suptitle(f"LINE bot load test {results['label']}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def compare(runs: list[dict], label: str) -> None:
    """Saved burst results side by side (e.g. before and after a change, each run with the same
    command): ``bench/results/bursts-<label>.md`` and ``.png``."""
    rows = ["| run | series | answers/s | handled/s | last answer after the last send, s | replies / pushes "
            "| answered once as a flood | bystanders p50 / max ms | CPU ms per message | CPU ratio echo/series |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        b = run.get("bursts") or {}
        for series in ("crowd", "flood"):
            r = b.get(series)
            if not r:
                continue
            by = r["bystander_e2e"]
            rows.append(f"| {run['label']} | {series} | {r['answers_per_second']:.0f} "
                        f"| {r.get('handled_per_second', 0):.0f} | {r['last_answer_after_send']:.1f} "
                        f"| {r['line_replies']:,} / {r['line_pushes']:,} | {r.get('coalesced', 0):,} "
                        f"| {by.get('p50', 0):.0f} / {by.get('max', 0):.0f} | {r['cpu_ms']:.2f} "
                        f"| {b['echo']['cpu_ms'] / max(1e-9, r['cpu_ms']):.2f} |")
    def command(run: dict) -> str:
        st = run.get("settings") or {}
        extra = "".join(f" --{name.replace('_', '-')} {st[name]}" for name in ("bursts", "scale", "reply_max_age")
                        if st.get(name) not in (None, 0))
        return (f"`{run['label']}`: `python -m bench load --only bursts{extra}` "
                f"(load average {run['load_before'][0]:.1f})")

    text = "\n".join([f"# Bursts compared ({label})", "",
                      "Each row: the mean of the run's rounds (replies and pushes: all rounds; bystanders: the worst "
                      "round). Before and after ran the same command on the code before and after the change.", ""]
                     + [f"- {command(run)}" for run in runs] + [""] + rows) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bursts-{label}.md").write_text(text)
    print(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart; pip install -r bench/requirements.txt)")
        return
    fig, axes = plt.subplots(1, 4, figsize=(18, 5))
    for run in runs:
        for series, style in (("crowd", "--"), ("flood", "-")):
            r = (run.get("bursts") or {}).get(series)
            if r:
                axes[0].plot([i * r["timeline_step"] for i in range(len(r["timeline"]))], r["timeline"], style,
                             label=f"{run['label']} {series}")
    axes[0].set_title("messages handled so far (s from the first send)", fontsize=10)
    axes[0].legend(fontsize=7)
    names = [f"{run['label']} {series}" for run in runs for series in ("crowd", "flood")
             if (run.get("bursts") or {}).get(series)]
    picked = [run["bursts"][series] for run in runs for series in ("crowd", "flood")
              if (run.get("bursts") or {}).get(series)]
    axes[1].bar(names, [r["bystander_e2e"].get("max", 0) / 1000 for r in picked], color="#bdb", label="max")
    axes[1].bar(names, [r["bystander_e2e"].get("p50", 0) / 1000 for r in picked], color="#4a7", label="p50")
    axes[1].set_title("bystanders' wait for their answer, s", fontsize=10)
    axes[1].legend(fontsize=8)
    replies, pushes = [r["line_replies"] for r in picked], [r["line_pushes"] for r in picked]
    axes[2].bar(names, replies, color="#47a", label="replies (free)")
    axes[2].bar(names, pushes, bottom=replies, color="#c44", label="pushes (quota)")
    axes[2].bar(names, [r.get("coalesced", 0) for r in picked],
                bottom=[a + b for a, b in zip(replies, pushes, strict=True)], color="#bbb",
                label="answered once as a flood")
    axes[2].set_title("how the messages were answered", fontsize=10)
    axes[2].legend(fontsize=8)
    axes[3].bar(names, [r["web_cpu_ms"] for r in picked], color="#47a", label="web")
    axes[3].bar(names, [r["worker_cpu_ms"] for r in picked], bottom=[r["web_cpu_ms"] for r in picked],
                color="#a74", label="worker")
    axes[3].set_title("CPU ms per message", fontsize=10)
    axes[3].legend(fontsize=8)
    for axis in axes[1:]:
        axis.tick_params(axis="x", labelsize=7, labelrotation=45)
    fig.suptitle(f"Bursts: {label}")
    fig.tight_layout()
    fig.savefig(RESULTS / f"bursts-{label}.png", dpi=90)
    plt.close(fig)


def chart_bursts(results: dict, path: Path) -> None:
    """Answers over time (crowd, flood), the bystanders' wait, replies vs pushes, CPU per answer
    beside the echo bot, and the scale-out's drain rate per number of worker processes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = results.get("bursts") or {}
    sc = results.get("scale") or {}
    names = [n for n in ("crowd", "flood") if n in b]
    panels = 4 + (len(sc) > 1)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4))
    for name in names:
        r = b[name]
        axes[0].plot([i * r["timeline_step"] for i in range(len(r["timeline"]))], r["timeline"], label=name)
    axes[0].axvline(results["settings"]["send_seconds"], color="#999", lw=0.8)
    axes[0].set_title("messages handled so far (s from the first send)", fontsize=10)
    if names:
        axes[0].legend()
    axes[1].bar(names, [b[n]["bystander_e2e"].get("p50", 0) / 1000 for n in names], label="p50", color="#4a7")
    axes[1].bar(names, [(b[n]["bystander_e2e"].get("max", 0) - b[n]["bystander_e2e"].get("p50", 0)) / 1000
                        for n in names], bottom=[b[n]["bystander_e2e"].get("p50", 0) / 1000 for n in names],
                label="to the max", color="#bdb")
    axes[1].set_title("bystanders' wait for their answer, s", fontsize=10)
    axes[1].legend()
    replies = [b[n]["line_replies"] for n in names]
    pushes = [b[n]["line_pushes"] for n in names]
    axes[2].bar(names, replies, label="replies (free)", color="#47a")
    axes[2].bar(names, pushes, bottom=replies, label="pushes (quota)", color="#c44")
    below = [r + p for r, p in zip(replies, pushes, strict=True)]
    axes[2].bar(names, [b[n].get("coalesced", 0) for n in names], bottom=below, label="answered once as a flood",
                color="#bbb")
    axes[2].set_title("how the messages were answered (all rounds)", fontsize=10)
    axes[2].legend(fontsize=8)
    cpu_names = names + (["echo"] if "echo" in b else [])
    axes[3].bar(cpu_names, [b[n]["web_cpu_ms"] for n in cpu_names], label="web", color="#47a")
    axes[3].bar(cpu_names, [b[n]["worker_cpu_ms"] for n in cpu_names],
                bottom=[b[n]["web_cpu_ms"] for n in cpu_names], label="worker", color="#a74")
    axes[3].set_title("CPU ms per message (echo: per request)", fontsize=10)
    axes[3].legend()
    if len(sc) > 1:
        counts = sorted(sc, key=int)
        axes[4].bar([f"{c} worker{'s' if c != '1' else ''}" for c in counts],
                    [sc[c]["drain_after_send_per_second"] for c in counts], color="#a74")
        axes[4].set_title("crowd drain after the sends, answers/s", fontsize=10)
    fig.suptitle(f"LINE bot bursts {results['label']}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

if __name__ == "__main__":
    sys.exit(main())
