"""``flask --app app worker`` on SIGTERM: the job in hand finishes, the rest stay queued (RQ's warm shutdown)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from rq import Queue

from handlers import jobs
from handlers.jobs.worker import run_worker

ROOT = Path(__file__).resolve().parents[2]


def slow_job(marker: str) -> None:
    """Say it started, take a while, say it finished."""
    Path(marker + ".started").touch()
    time.sleep(1)  # long enough to be in hand when SIGTERM comes (the metrics check takes milliseconds)
    Path(marker + ".done").touch()


def test_sigterm_lets_the_job_in_hand_finish_and_leaves_the_rest_queued(app, app_config, tmp_path):
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    with app.test_request_context():
        jobs.enqueue("tests.ops.test_shutdown:slow_job", marker=first)
        jobs.enqueue("tests.ops.test_shutdown:slow_job", marker=second)
    env = dict(os.environ, DATABASE_URL=app_config["DATABASE_URL"], REDIS_URL=app_config["REDIS_URL"],
               SECRET_KEY=app_config["SECRET_KEY"], LINE_CHANNEL_SECRET=app_config["LINE_CHANNEL_SECRET"],
               LINE_CHANNEL_ACCESS_TOKEN=app_config["LINE_CHANNEL_ACCESS_TOKEN"],
               LINE_API_BASE_URL=app_config["LINE_API_BASE_URL"], SMTP_URL=app_config["SMTP_URL"],
               PYTHONPATH=str(ROOT))
    env.pop("DEMO_DEFAULTS", None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--metrics-port",
                                   str(port)], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not Path(first + ".started").exists():
            assert time.monotonic() < deadline, "the worker never started the job"
            assert worker.poll() is None, log_path.read_text()
            time.sleep(0.05)
        # A worker-only host's metrics, on loopback: the job in hand shows as running.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'aicom_queue_pending{partition="interactive",queue="rq"} 1.0' in text
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert Path(first + ".done").exists()  # finished, not cut off
    assert not Path(second + ".started").exists()  # never taken
    assert Queue(jobs.QUEUE_NAME, connection=app.extensions["redis"]).count == 1


def test_a_finished_worker_run_leaves_no_redis_socket_of_its_own_open(app):
    """RQ's scheduler opens a connection pool of its own and leaves it to the garbage collector
    (the worker outlives its run: RQ's signal handlers hold it); the run's end closes it."""
    worker = run_worker(app, burst=True)
    pool = worker.scheduler._connection.connection_pool
    connections = [*pool._available_connections, *pool._in_use_connections]
    assert connections and all(c._sock is None for c in connections)
