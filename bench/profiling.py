"""py-spy over the load test: the worker and a web worker during a bill run (``--profile``), the
worker during a burst, and the raw stacks summarised as shares of samples per library.

``bench.load`` profiles a bill run (measured by ``bench.measure``); ``bench.bursts`` starts and
stops the samplers around a burst. Raw stacks are kept gzipped under ``bench/results/profiles``.
"""

from __future__ import annotations

import gzip
import shutil
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bench.common import RESULTS
from bench.measure import measure
from bench.procstat import family


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
