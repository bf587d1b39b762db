"""``python -m bench.loadgen ...``: the load test's client, a process of its own (asyncio, raw sockets).

Each of ``--conns`` keep-alive connections runs a closed loop: send a pre-signed webhook,
read the answer, and, for kinds that expect a reply, wait for the fake LINE to announce it
(a UDP datagram with the reply token, see ``bench.fakeline``) before sending the next. So
the webhook latency (POST → HTTP answer) and the end-to-end latency (POST → reply received
by LINE) are both measured, and a reply that never comes is counted as lost (after 10 s).
Connections take disjoint sets of users, so no two requests of one user are in flight.

Kinds: ``verify`` (LINE's Verify body, no events), ``echo`` (a text message; the echo bot
answers it), ``bill`` (``今月の料金`` from linked users), ``register`` (a new user: 登録, the
お客様番号, the phone number, the kana name, whose turn is the verification).
Prints one JSON object: counts, rates, percentiles and the generator's own CPU per request.

``burst`` is open loop instead, as a crowd or a flood reaches LINE (``bench.burstgen``).
Bodies, answers and the fake LINE's announcements: ``bench.wire``. ``bench.load`` runs this
process once per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

from bench.burstgen import burst_async
from bench.wire import VERIFY, Announcements, open_connection, percentiles, read_answer, text_event

REPLY_TIMEOUT = 10.0


class Run:
    def __init__(self, args) -> None:
        self.args = args
        self.webhook: list[float] = []
        self.e2e: list[float] = []
        self.steps: dict[str, list[float]] = {}
        self.completed = 0  # turns (or Verify answers) finished, warm-up included
        self.measured = 0
        self.lost = 0
        self.errors = 0
        self.over_2s = 0
        self.on_the_fly = 0
        self.reconnects = 0


def plan(kind: str, users: list, conns: int, per_conn: int) -> list[list[list[tuple[bytes, str, str, str]]]]:
    """Per connection, a list of 'jobs', each a list of (request, token, user, step) sent one after the other."""
    jobs: list[list[list[tuple[bytes, str, str, str]]]] = [[] for _ in range(conns)]
    for c in range(conns):
        mine = users[c::conns] or users
        for i in range(per_conn):
            if kind == "verify":
                jobs[c].append([(VERIFY, "", "", "verify")])
            elif kind == "echo":
                user = mine[i % len(mine)]
                request, token = text_event(user, "こんにちは")
                jobs[c].append([(request, token, user, "echo")])
            elif kind == "bill":
                user = mine[i % len(mine)]
                request, token = text_event(user, "今月の料金")
                jobs[c].append([(request, token, user, "bill")])
            else:  # register: a new LINE user each time, answering for an unlinked customer
                number, phone, kana = mine[i % len(mine)]
                user = "U" + uuid.uuid4().hex
                steps = []
                for step, text in (("start", "登録"), ("number", number), ("phone", phone), ("verify", kana)):
                    request, token = text_event(user, text)
                    steps.append((request, token, user, step))
                jobs[c].append(steps)
    return jobs


async def connection(run: Run, announcements: Announcements, jobs: list, start: float, measure_from: float,
                     stop_at: float) -> None:
    args = run.args
    reader, writer = await open_connection(args.port)
    index = 0
    try:
        while time.perf_counter() < stop_at:
            if index < len(jobs):
                job = jobs[index]
            else:
                run.on_the_fly += 1
                job = plan(args.kind, args.users, 1, 1)[0][0]
            index += 1
            for request, token, user, step in job:
                future = announcements.expect(token, user) if token else None
                sent = time.perf_counter()
                try:
                    writer.write(request)
                    status = await read_answer(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # gunicorn closed the keep-alive connection (a worker recycled after
                    # max_requests): open another and send again (a duplicate is deduplicated).
                    run.reconnects += 1
                    writer.close()
                    reader, writer = await open_connection(args.port)
                    writer.write(request)
                    status = await read_answer(reader)
                answered = time.perf_counter()
                counted = sent >= measure_from
                if status != 200:
                    run.errors += 1
                if counted:
                    run.webhook.append(answered - sent)
                    if answered - sent > 2.0:
                        run.over_2s += 1
                if future is not None:
                    try:
                        arrived = await asyncio.wait_for(future, REPLY_TIMEOUT)
                    except TimeoutError:
                        run.lost += 1
                        announcements.waiting.pop(token, None)
                        continue
                    if counted:
                        run.e2e.append(arrived - sent)
                        run.steps.setdefault(step, []).append(arrived - sent)
                run.completed += 1
                if counted and answered <= stop_at:
                    run.measured += 1
    finally:
        writer.close()


async def main_async(args) -> dict:
    loop = asyncio.get_running_loop()
    announcements = Announcements()
    transport, _ = await loop.create_datagram_endpoint(lambda: announcements,
                                                       local_addr=("127.0.0.1", args.notify_port))
    per_conn = max(50, int(args.duration * args.rate_guess / args.conns) + 10)
    jobs = plan(args.kind, args.users, args.conns, per_conn)
    run = Run(args)
    cpu0 = os.times()
    start = time.perf_counter()
    measure_from, stop_at = start + args.warmup, start + args.warmup + args.duration
    await asyncio.gather(*(connection(run, announcements, jobs[c], start, measure_from, stop_at)
                           for c in range(args.conns)))
    cpu1 = os.times()
    transport.close()
    elapsed = time.perf_counter() - start
    own_cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) * 1000
    return {
        "kind": args.kind, "conns": args.conns, "completed": run.completed, "measured": run.measured,
        "rps": round(run.measured / args.duration, 1), "elapsed": round(elapsed, 2),
        "webhook": percentiles(run.webhook), "e2e": percentiles(run.e2e),
        "steps": {k: percentiles(v) for k, v in run.steps.items()},
        "lost": run.lost, "errors": run.errors, "over_2s": run.over_2s, "on_the_fly": run.on_the_fly,
        "reconnects": run.reconnects,
        "loadgen_cpu_ms_per_request": round(own_cpu / max(1, run.completed), 3),
        "loadgen_cpu_share": round(own_cpu / 1000 / elapsed, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--notify-port", type=int, required=True)
    parser.add_argument("--kind", choices=("verify", "echo", "bill", "register", "burst"), required=True)
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rate-guess", type=float, default=1500.0, help="requests/s to pre-sign bodies for")
    parser.add_argument("--users", required=True, help="a JSON file: user ids, or [number, phone, kana] lists")
    parser.add_argument("--per-user", type=int, default=1, help="burst: messages each user sends")
    parser.add_argument("--send-seconds", type=float, default=8.0, help="burst: the time the messages are spread over")
    parser.add_argument("--bystanders", help="burst: a JSON file of other user ids, one message each")
    parser.add_argument("--idle", type=float, default=20.0,
                        help="burst: stop waiting after this long without an answer")
    parser.add_argument("--max-wait", type=float, default=600.0, help="burst: stop waiting after this long in all")
    args = parser.parse_args()
    with open(args.users) as stream:
        args.users = json.load(stream)
    if args.kind == "burst":
        bystanders = []
        if args.bystanders:
            with open(args.bystanders) as stream:
                bystanders = json.load(stream)
        args.bystanders = bystanders
        print(json.dumps(asyncio.run(burst_async(args))), flush=True)
        return 0
    print(json.dumps(asyncio.run(main_async(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
