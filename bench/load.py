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

The rooms: this module is the command and its order of work; ``bench.seeding`` fills the
database, ``bench.fleet`` starts the processes, ``bench.measure`` runs one closed-loop
measurement, ``bench.bursts`` the open-loop ones, ``bench.profiling`` py-spy,
``bench.procstat`` reads ``/proc``, ``bench.report`` and ``bench.charts`` write the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import redis as redis_lib

from bench.bursts import run_bursts, run_scale
from bench.common import throwaway_database
from bench.fleet import REDIS_URL, Fleet, fake_stats, start_fleet
from bench.measure import SERIES, combine, measure
from bench.profiling import profile
from bench.report import compare, write
from bench.seeding import line_user, plans, seed


def argument_parser() -> argparse.ArgumentParser:
    """The command's options (they are saved with the results as its settings)."""
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = argument_parser().parse_args(argv)
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
            warm(ctx)
            results = run(ctx, url, args, workdir, fleet)
            write(results, args)
    finally:
        fleet.stop()
        client.flushdb()
        client.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def warm(ctx: dict) -> None:
    """Before the first measurement: the worker's consumers take their leases, every process warms."""
    time.sleep(2)  # the worker's consumers take their leases
    for series in SERIES:  # warm every process (imports, pools, compiled statements)
        measure(series, 4, ctx, 1.5)


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


if __name__ == "__main__":
    sys.exit(main())
