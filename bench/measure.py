"""One closed-loop measurement of the load test, and rounds of one combined: the load generator
(``bench.loadgen``) run against one series at one concurrency, with the CPU the web, worker and
fake-LINE processes spent meanwhile (``bench.procstat``), per request.

Series: ``floor`` (LINE's Verify body: the signature check alone), ``echo`` (the echo bot),
``bill`` (今月の料金, timed until the fake LINE has the reply), ``register`` (a new user's
registration, the last turn being the verification). ``bench.load`` runs them round by round;
``bench.bursts`` uses the echo bot as its CPU baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

from bench.common import ROOT
from bench.procstat import cpu_seconds, family

SERIES = ("floor", "echo", "bill", "register")


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
