"""The load test's bursts, open loop as LINE delivers a rush: a crowd, a flood, and the scale-out.

``crowd`` (``--crowd`` distinct linked customers, one 今月の料金 each) and ``flood``
(``--flood-users`` customers, ``--flood-per-user`` messages each), each sent by the load
generator (``bench.loadgen --kind burst``) over ``--send-seconds`` with ``--bystanders`` others
meanwhile, interleaved round by round with the echo bot (``bench.measure``) as the CPU baseline;
then the crowd again with 1 … ``--scale`` worker processes (``bench.fleet`` starts the extra
ones). Around each burst: the CPU of every process (``bench.procstat``), each partition's
backlog (``PartitionSampler``), what the fake LINE counted, the workers' log lines of floods
answered once, and py-spy of the worker (``bench.profiling``) during the first round.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

import redis as redis_lib

from bench.common import ROOT
from bench.fleet import REDIS_URL, Fleet, fake_stats, start_worker
from bench.measure import combine, measure
from bench.procstat import by_name, cpu_seconds, family, machine_cpu
from bench.profiling import start_spies, stop_spies
from storage import keys


def queued_events(ctx: dict) -> int:
    """Events waiting in every partition of the queue (Redis)."""
    client = redis_lib.Redis.from_url(REDIS_URL)
    try:
        return sum(int(client.xlen(keys.stream_key(p))) for p in range(ctx["partitions"]))
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
            owners = [client.get(keys.lease_key(p)) for p in range(self.ctx["partitions"])]
            self.owners = [o.decode() if isinstance(o, bytes) else (o or "") for o in owners]
            while not self._stop.wait(self.every):
                pipe = client.pipeline(transaction=False)
                for p in range(self.ctx["partitions"]):
                    pipe.xlen(keys.stream_key(p))
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
