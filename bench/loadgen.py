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
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid

CHANNEL_SECRET = "bench-channel-secret"
BOT_USER_ID = "U" + "0" * 32
REPLY_TIMEOUT = 10.0


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def http_request(body: bytes) -> bytes:
    head = (f"POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"X-Line-Signature: {sign(body)}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def text_event(user_id: str, text: str) -> tuple[bytes, str]:
    token = uuid.uuid4().hex
    event = {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id}, "replyToken": token,
        "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24], "deliveryContext": {"isRedelivery": False},
        "message": {"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text, "quoteToken": uuid.uuid4().hex},
    }
    body = json.dumps({"destination": BOT_USER_ID, "events": [event]}, ensure_ascii=False).encode()
    return http_request(body), token


VERIFY = http_request(json.dumps({"destination": BOT_USER_ID, "events": []}).encode())


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def q(p: float) -> float:
        return round(ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))] * 1000, 2)

    return {"n": len(ordered), "p50": q(50), "p95": q(95), "p99": q(99), "max": round(ordered[-1] * 1000, 2)}


class Announcements(asyncio.DatagramProtocol):
    """Replies the fake LINE received: reply token (or ``push:<user>``) → the moment it arrived."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future] = {}
        self.token_of_user: dict[str, str] = {}

    def expect(self, token: str, user: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting[token] = future
        self.token_of_user[user] = token
        return future

    def datagram_received(self, data: bytes, addr) -> None:
        key = data.decode()
        if key.startswith("push:"):
            key = self.token_of_user.get(key[5:], "")
        future = self.waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


async def read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


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


async def open_connection(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
    return reader, writer


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
    parser.add_argument("--kind", choices=("verify", "echo", "bill", "register"), required=True)
    parser.add_argument("--conns", type=int, default=2)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rate-guess", type=float, default=1500.0, help="requests/s to pre-sign bodies for")
    parser.add_argument("--users", required=True, help="a JSON file: user ids, or [number, phone, kana] lists")
    args = parser.parse_args()
    with open(args.users) as stream:
        args.users = json.load(stream)
    print(json.dumps(asyncio.run(main_async(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
