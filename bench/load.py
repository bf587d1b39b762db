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

Then, unless ``--no-growth``: the bill and verification latency at 2 connections with the
seeded customers, again after bulk-inserting customers up to ``--growth`` (default
1,000,000, each with an account, a LINE link and a statement), with the query plans.
With ``--profile``: py-spy records the web and worker processes during a bill run
(``--gil`` and without) and the summary goes into the results.
Results: ``bench/results/load.md``, ``load.json``, ``load.png``.
"""

from __future__ import annotations

import argparse
import json
import os
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
    worker = [ctx["worker_pid"]] if series in ("bill", "register") else []
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


def profile(ctx: dict, workdir: Path, seconds: int) -> dict:
    """py-spy over a bill run: the worker and one web worker, with --gil and without; a dump of the worker."""
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not pyspy:
        return {"error": "py-spy not installed"}
    web_workers = family(ctx["web_pid"])[1:]
    summaries: dict = {}
    for gil in (False, True):
        jobs = []
        for name, pid in (("worker", ctx["worker_pid"]), ("web", web_workers[0] if web_workers else ctx["web_pid"])):
            raw = workdir / f"pyspy-{name}-{'gil' if gil else 'all'}.txt"
            argv = [pyspy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                    "--format", "raw", "--output", str(raw), "--nonblocking"] + (["--gil"] if gil else [])
            jobs.append((name, raw, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
        measure("bill", 16, ctx, seconds)
        for name, raw, proc in jobs:
            _out, err = proc.communicate(timeout=60)
            key = f"{name}{' --gil' if gil else ''}"
            summaries[key] = summarise(raw) if raw.exists() else {"error": err.decode()[-500:]}
    dump = subprocess.run([pyspy, "dump", "--pid", str(ctx["worker_pid"])], capture_output=True, text=True, check=False)
    summaries["dump"] = dump.stdout[-4000:] or dump.stderr[-1000:]
    return summaries


BUCKETS = (("pydantic / line-bot-sdk models",
            ("pydantic", "linebot/v3/messaging/models", "linebot/v3/webhooks/models")),
           ("line-bot-sdk (rest)", ("linebot",)),
           ("SQLAlchemy", ("sqlalchemy",)), ("psycopg", ("psycopg",)), ("redis-py", ("redis/",)),
           ("urllib3 / http.client", ("urllib3", "http/client")), ("json", ("json/", "orjson")),
           ("threading", ("threading.py",)), ("logging", ("logging/",)), ("flask / werkzeug", ("flask", "werkzeug")),
           ("our code", ("bot/", "storage/", "handlers/")))


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
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="aicom-bench-"))
    fleet = Fleet(workdir)
    client = redis_lib.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        with throwaway_database() as url:
            seed(url, 1, args.customers, args.linked)
            ctx = start_fleet(fleet, workdir, url, args)
            results = run(ctx, url, args, workdir)
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
    for name in ("DEMO_DEFAULTS", "PROMETHEUS_MULTIPROC_DIR", "JOBS_INLINE", "EVENTS_INLINE"):
        env.pop(name, None)
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
    register_file.write_text(json.dumps([[customer_number(i), phone(i), KANA]
                                         for i in range(args.linked + 1, args.customers + 1)]))
    ctx = {"fake_port": fake_port, "web_port": web_port, "echo_port": echo_port, "notify_port": notify_port,
           "fake_pid": fake.pid, "web_pid": web.pid, "echo_pid": echo.pid, "worker_pid": worker.pid,
           "users_file": str(users_file), "register_file": str(register_file)}
    time.sleep(2)  # the worker's consumers take their leases
    for series in SERIES:  # warm every process (imports, pools, compiled statements)
        measure(series, 4, ctx, 1.5)
    return ctx


def run(ctx: dict, url: str, args, workdir: Path) -> dict:
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
    results = {"label": args.label, "machine": machine(), "load_before": os.getloadavg(),
               "series": {f"{s}@{c}": combine(v) for (s, c), v in raw.items()}}
    stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ctx['fake_port']}/bench/stats").read())
    refused = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ctx['fake_port']}/bench/refused").read())
    results["fake"] = {"stats": stats, "refused": refused}
    if args.profile:
        results["profile"] = profile(ctx, workdir, args.profile)
    if args.growth and args.growth > args.customers:
        results["growth"] = growth(ctx, url, args.customers, args.growth, args.duration)
    results["load_after"] = os.getloadavg()
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


def write(results: dict, args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "load" + (f"-{args.label}" if args.label else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    text = report(results)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)
    try:
        chart(results, RESULTS / f"{stem}.png")
    except ImportError:
        print("(matplotlib not installed: no chart; pip install -r bench/requirements.txt)")


def report(results: dict) -> str:
    s = results["series"]
    floor = s.get("floor@64", {})
    m = results["machine"]
    lines = [f"# Load test{' (' + results['label'] + ')' if results['label'] else ''}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, Python {m['python']}; shared with other "
             f"engineers' test runs (load average {results['load_before'][0]:.2f} before, "
             f"{results['load_after'][0]:.2f} after).", "",
             "| series | conns | req/s | ratio to floor | CPU ms/req (web + worker) | CPU ratio floor/series "
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
    return "\n".join(lines) + "\n"


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


if __name__ == "__main__":
    sys.exit(main())
