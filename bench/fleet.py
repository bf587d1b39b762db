"""The load test's processes: the fake LINE, the bot's gunicorn, the worker, the echo bot, each in a
process of its own with its log in the work directory, stopped (and waited for) at the end whatever
happens; the environment they share; the files of LINE users the load generator sends as.

``bench.load`` starts the fleet on the database ``bench.seeding`` filled; the context it returns
(ports, pids, files) is what ``bench.measure`` and ``bench.bursts`` measure against.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT
from bench.seeding import KANA, customer_number, line_user, phone

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
CHANNEL_SECRET = "bench-channel-secret"
ACCESS_TOKEN = "bench-access-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def fake_stats(ctx: dict) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ctx['fake_port']}/bench/stats").read())


def start_worker(fleet: Fleet, ctx: dict, args, name: str) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    proc = fleet.start(name, [str(bin_dir / "flask"), "--app", "app", "worker", "--threads", str(args.threads)],
                       ctx["env"])
    ctx["worker_logs"][proc.pid] = ctx["workdir"] / f"{name}.log"
    return proc


def environment(url: str, fake_port: int, args) -> dict:
    """What every process of the fleet is started with: the database, Redis, the fake LINE."""
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
    return env


def user_files(workdir: Path, args) -> dict:
    """The LINE users each series sends as, one JSON file each (the load generator reads them)."""
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
    return {"users_file": str(users_file), "register_file": str(register_file), "crowd_file": str(crowd_file),
            "flood_file": str(flood_file), "bystanders_file": str(bystanders_file)}


def start_fleet(fleet: Fleet, workdir: Path, url: str, args) -> dict:
    """Start the fake LINE, the bot's gunicorn, the echo bot and the worker; the context to measure with."""
    bin_dir = Path(sys.executable).parent
    fake_port, web_port, echo_port, notify_port = free_port(), free_port(), free_port(), free_port()
    env = environment(url, fake_port, args)
    fake = fleet.start("fakeline", [sys.executable, "-m", "bench.fakeline", str(fake_port), str(notify_port)], env,
                       wait_for=listening(fake_port, "/bench/stats"))
    web = fleet.start("web", [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
                      dict(env, GUNICORN_BIND=f"127.0.0.1:{web_port}"), wait_for=listening(web_port, "/healthz"))
    echo = fleet.start("echo", [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "bench.echo_app:app"],
                       dict(env, GUNICORN_BIND=f"127.0.0.1:{echo_port}"), wait_for=listening(echo_port, "/"))
    worker = fleet.start("worker", [str(bin_dir / "flask"), "--app", "app", "worker", "--threads", str(args.threads)],
                         env)
    files = user_files(workdir, args)
    return {"fake_port": fake_port, "web_port": web_port, "echo_port": echo_port, "notify_port": notify_port,
            "fake_pid": fake.pid, "web_pid": web.pid, "echo_pid": echo.pid, "worker_pids": [worker.pid],
            "worker_logs": {worker.pid: workdir / "worker.log"},
            **files, "env": env, "workdir": workdir,
            "partitions": int(env.get("EVENT_PARTITIONS", "16")),
            "lease_seconds": float(env.get("EVENT_LEASE_SECONDS", "15")), "label": args.label}
