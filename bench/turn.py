"""``python -m bench turn``: the CPU of one ``今月の料金`` turn, in one process, step by step.

Not a load test (``bench load`` is the one the issue's figures come from): a quick loop for
cutting. It starts the fake LINE (``bench.fakeline``) in a process of its own, makes a
throwaway PostgreSQL database with ``--linked`` linked customers, and then, in this
process and one thread, runs ``--count`` events through the same code as production: the
webhook (``POST /callback`` through Flask's test client: signature, parse, queue) and the
event consumer (read the partition, run the turn, reply, acknowledge). It prints the CPU
milliseconds per event of each half and, with ``--profile consumer|webhook``, the top of a
cProfile (CPU time) of that half, by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import subprocess
import sys
import time
import uuid

import redis as redis_lib

from bench.common import ROOT, throwaway_database
from bench.fleet import ACCESS_TOKEN, CHANNEL_SECRET, free_port, listening
from bench.seeding import line_user, seed
from bench.wire import sign

REDIS_URL = os.environ.get("BENCH_TURN_REDIS_URL", "redis://127.0.0.1:6379/5")


def body_for(user_id: str, text: str) -> bytes:
    event = {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id}, "replyToken": uuid.uuid4().hex,
        "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24], "deliveryContext": {"isRedelivery": False},
        "message": {"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text, "quoteToken": uuid.uuid4().hex},
    }
    return json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench turn", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--linked", type=int, default=400)
    parser.add_argument("--text", default="今月の料金")
    parser.add_argument("--profile", choices=("consumer", "webhook"), help="cProfile (CPU time) this half")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--save", metavar="FILE", help="also write the profile here (pstats format)")
    args = parser.parse_args(argv)

    fake_port, notify_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    fake = subprocess.Popen([sys.executable, "-m", "bench.fakeline", str(fake_port), str(notify_port)], env=env,
                            stdout=subprocess.DEVNULL)
    try:
        ready = listening(fake_port, "/bench/stats")
        while not ready():
            time.sleep(0.1)
        with throwaway_database() as url:
            seed(url, 1, args.linked, args.linked)
            redis_lib.Redis.from_url(REDIS_URL).flushdb()
            os.environ.update(DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY=secrets.token_hex(32),
                              LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
                              LINE_API_BASE_URL=f"http://127.0.0.1:{fake_port}", EMULATOR="0",
                              SMTP_URL="smtp://127.0.0.1:25")
            for name in ("DEMO_DEFAULTS", "PROMETHEUS_MULTIPROC_DIR", "JOBS_INLINE", "EVENTS_INLINE"):
                os.environ.pop(name, None)
            return run(args)
    finally:
        fake.terminate()
        fake.wait(5)
        redis_lib.Redis.from_url(REDIS_URL).flushdb()


def run(args) -> int:
    """Warm up, then time LINE's Verify body (the floor) and ``--count`` turns, each half on its own."""
    turns = InProcess(args.linked, args.text)
    with turns.app.app_context():
        turns.hold_partitions()
        for i in range(min(200, args.count)):  # warm: imports, pools, compiled statements
            turns.post(i)
            turns.consume()
        for _ in range(200):
            turns.post_verify()
        started = time.process_time()
        for _ in range(args.count):
            turns.post_verify()
        floor = (time.process_time() - started) / args.count
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        web, work = turns.timed(args.count, profiler, args.profile)
        turns.release_partitions()
    print(f"{args.count} × {args.text}: webhook {web / args.count * 1000:.3f} ms "
          f"(LINE's Verify body: {floor * 1000:.3f} ms), consumer {work / args.count * 1000:.3f} ms "
          "CPU per event (one thread, in process)")
    if profiler and args.save:
        profiler.dump_stats(args.save)
    if profiler:
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
            print(out.getvalue())
    return 0


class InProcess:
    """The app and one event consumer in this process and thread: post a webhook, consume its event."""

    def __init__(self, linked: int, text: str) -> None:
        from app import create_app
        from handlers.line.worker import EventWorker
        from storage.events import Leases, partition_of

        self.app = create_app()
        self.client = self.app.test_client()
        self.worker = EventWorker(self.app, threads=0)
        self.leases = Leases()
        self.text = text
        # As one of the deployed worker's 4 consumer threads: 4 of the 16 partitions, and the
        # customers whose events fall into them.
        self.held = set(range(4))
        self.users = [line_user(i) for i in range(1, linked + 1)
                      if partition_of(line_user(i), self.worker.queue.partitions) in self.held]
        self.verify = json.dumps({"destination": "U" + "0" * 32, "events": []}).encode()

    def hold_partitions(self) -> None:
        self.worker.queue.ensure_groups(force=True)
        for partition in self.held:
            assert self.worker.queue.take_lease(partition, self.leases.consumer)
            self.leases.held.add(partition)
        self.leases.next_rebalance = float("inf")

    def release_partitions(self) -> None:
        for partition in sorted(self.leases.held):
            self.worker.queue.drop_lease(partition, self.leases.consumer)

    def post(self, i: int) -> None:
        body = body_for(self.users[i % len(self.users)], self.text)
        response = self.client.post("/callback", data=body, headers={"X-Line-Signature": sign(body),
                                                                      "Content-Type": "application/json"})
        assert response.status_code == 200, response.status_code

    def post_verify(self) -> None:
        response = self.client.post("/callback", data=self.verify, headers={
            "X-Line-Signature": sign(self.verify), "Content-Type": "application/json"})
        assert response.status_code == 200, response.status_code

    def consume(self) -> int:
        leases, worker = self.leases, self.worker
        entries = worker.queue.read(sorted(leases.held), leases.consumer, pending=False, acks=leases.acks)
        handled = worker._handle_batch(leases, entries, retry_transient=True)[0]
        if worker.handled % 50 == 0:  # the worker's outbox thread marks about this many at once under load
            worker.delivered.flush()
        return handled

    def timed(self, count: int, profiler: cProfile.Profile | None, half: str | None) -> tuple[float, float]:
        """CPU seconds of ``count`` webhooks and of their turns; ``profiler`` records ``half`` of them."""
        web = work = 0.0
        for i in range(count):
            started = time.process_time()
            if profiler and half == "webhook":
                profiler.enable()
            self.post(i)
            if profiler:
                profiler.disable()
            middle = time.process_time()
            if profiler and half == "consumer":
                profiler.enable()
            handled = self.consume()
            if profiler:
                profiler.disable()
            web += middle - started
            work += time.process_time() - middle
            assert handled == 1, handled
        return web, work


if __name__ == "__main__":
    sys.exit(main())
