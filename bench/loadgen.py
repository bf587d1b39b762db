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

``burst`` is open loop instead, as a crowd or a flood reaches LINE: every user in ``--users``
sends ``--per-user`` messages (``今月の料金``), all spread evenly over ``--send-seconds``, each
signed as it is sent (its ``timestamp`` is the moment it was sent: the reply token's age
counts from there); no connection waits for an answer before sending the next. A user's
messages go over one connection, in order. ``--bystanders``: other users who each send one
message, evenly spaced during the burst (their latency shows whether the burst holds them
back). Then it waits until every message has its answer (or nothing has arrived for
``--idle`` seconds) and reports: answers a second (answered messages ÷ first send → last
answer), the time from the last send to the last answer, replies and pushes as the fake LINE
announced them, and the bystanders' and the burst's latencies. A person's answers come in the
order they were sent, so an answer to a later message while an earlier one has none marks
the earlier one "passed over" (a flood answered once; otherwise a broken order); a message
with neither at the end is "lost". A push names only its person: it answers their oldest.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import uuid

CHANNEL_SECRET = "bench-channel-secret"
BOT_USER_ID = "U" + "0" * 32
REPLY_TIMEOUT = 10.0
MAX_EVENTS_PER_BODY = 20  # burst: a connection behind schedule sends what is due in one body, up to this


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def http_request(body: bytes) -> bytes:
    head = (f"POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"X-Line-Signature: {sign(body)}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def text_event(user_id: str, text: str) -> tuple[bytes, str]:
    event, token = text_event_dict(user_id, text)
    body = json.dumps({"destination": BOT_USER_ID, "events": [event]}, ensure_ascii=False).encode()
    return http_request(body), token


def text_event_dict(user_id: str, text: str) -> tuple[dict, str]:
    """One text message event as LINE sends it, stamped now, and its reply token."""
    token = uuid.uuid4().hex
    event = {
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id}, "replyToken": token,
        "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24], "deliveryContext": {"isRedelivery": False},
        "message": {"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text, "quoteToken": uuid.uuid4().hex},
    }
    return event, token


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
        self.arrivals: list[tuple[float, str]] = []  # (when, reply token or push:<user>), burst mode only
        self.record = False

    def expect(self, token: str, user: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting[token] = future
        self.token_of_user[user] = token
        return future

    def datagram_received(self, data: bytes, addr) -> None:
        key = data.decode()
        if self.record:
            self.arrivals.append((time.perf_counter(), key))
            return
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


class BurstMessage:
    """One message of a burst: who sent it, when, and when its answer came."""

    __slots__ = ("user", "token", "sent", "answered", "how", "bystander")

    def __init__(self, user: str, bystander: bool) -> None:
        self.user, self.bystander = user, bystander
        self.token, self.sent, self.answered, self.how = "", 0.0, 0.0, ""


async def burst_connection(port: int, messages: list[BurstMessage], first_at: float, interval: float,
                           webhook: list[float], counts: dict) -> None:
    """Send ``messages`` in order, the j-th at ``first_at + j * interval`` (or as soon as the
    previous answer came, when behind), each signed as it goes."""
    reader, writer = await open_connection(port)
    j = 0
    try:
        while j < len(messages):
            delay = first_at + j * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Behind schedule (the webhook slower than the pace): every message due by now goes
            # in one body, as LINE itself puts several events in one webhook request.
            due = 1
            while (j + due < len(messages) and due < MAX_EVENTS_PER_BODY
                   and first_at + (j + due) * interval <= time.perf_counter()):
                due += 1
            batch = messages[j:j + due]
            j += due
            events = []
            for message in batch:
                event, message.token = text_event_dict(message.user, "今月の料金")
                events.append(event)
            request = http_request(json.dumps({"destination": BOT_USER_ID, "events": events},
                                              ensure_ascii=False).encode())
            sent = time.perf_counter()
            for message in batch:
                message.sent = sent
            try:
                writer.write(request)
                status = await read_answer(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                counts["reconnects"] += 1
                writer.close()
                reader, writer = await open_connection(port)
                writer.write(request)
                status = await read_answer(reader)
            webhook.append(time.perf_counter() - sent)
            counts["requests"] += 1
            if status != 200:
                counts["errors"] += 1
    finally:
        writer.close()


async def burst_async(args) -> dict:
    """The open-loop burst (``--kind burst``): see the module docstring."""
    loop = asyncio.get_running_loop()
    announcements = Announcements()
    announcements.record = True
    transport, _ = await loop.create_datagram_endpoint(lambda: announcements,
                                                       local_addr=("127.0.0.1", args.notify_port))
    # Thousands of announcements a second while this process is busy sending: a deep buffer
    # (the kernel caps it at net.core.rmem_max), or some are dropped and counted as lost.
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    users, bystanders = args.users, args.bystanders
    conns = max(1, min(args.conns, len(users)))
    lanes: list[list[BurstMessage]] = [[] for _ in range(conns)]
    for _ in range(args.per_user):  # a user's messages on one connection, users taking turns
        for u, user in enumerate(users):
            lanes[u % conns].append(BurstMessage(user, bystander=False))
    by_lanes = [[BurstMessage(user, bystander=True)] for user in bystanders]
    by_conns = max(1, min(4, len(by_lanes)))
    by_grouped: list[list[BurstMessage]] = [sum(by_lanes[c::by_conns], []) for c in range(by_conns)]
    everything = [m for lane in lanes + by_grouped for m in lane]
    webhook: list[float] = []
    counts = {"errors": 0, "reconnects": 0, "requests": 0}
    cpu0 = os.times()
    start = time.perf_counter() + 0.2
    tasks = [burst_connection(args.port, lane, start, args.send_seconds / max(1, len(lane)), webhook, counts)
             for lane in lanes if lane]
    # Bystanders start a little after the burst (their partitions have a backlog by then).
    tasks += [burst_connection(args.port, lane, start + args.send_seconds * 0.1,
                               args.send_seconds * 0.8 / max(1, len(lane)), webhook, counts)
              for lane in by_grouped if lane]
    await asyncio.gather(*tasks)
    last_sent = max(m.sent for m in everything)
    # Wait for the answers: every message answered, or nothing new for --idle seconds.
    by_token = {m.token: m for m in everything}
    unanswered: dict[str, list[BurstMessage]] = {}
    for m in everything:
        unanswered.setdefault(m.user, []).append(m)
    replies = pushes = unmatched = passed_over = 0
    seen = 0
    answered = 0
    last_arrival = last_sent
    deadline = time.perf_counter() + args.max_wait
    while answered + passed_over < len(everything) and time.perf_counter() < deadline:
        arrivals = announcements.arrivals
        for when, key in arrivals[seen:]:
            if key.startswith("push:"):
                queue = unanswered.get(key[5:])
                message = queue[0] if queue else None
                how = "push"
            else:
                message = by_token.get(key)
                how = "reply"
            if message is None or message.answered:
                unmatched += 1
                continue
            queue = unanswered[message.user]
            while queue[0] is not message:  # a later message answered first: the earlier ones were
                earlier = queue.pop(0)      # passed over (a flood answered once, or order broken)
                earlier.answered, earlier.how = when, "passed over"
                passed_over += 1
            queue.pop(0)
            message.answered, message.how = when, how
            replies += how == "reply"
            pushes += how == "push"
            answered += 1
            last_arrival = max(last_arrival, when)
        seen = len(arrivals)
        if answered + passed_over < len(everything):
            if time.perf_counter() - max(last_arrival, last_sent) > args.idle:
                break
            await asyncio.sleep(0.05)
    cpu1 = os.times()
    transport.close()
    first_sent = min(m.sent for m in everything)
    own_cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) * 1000

    def latencies(bystander: bool) -> dict:
        return percentiles([m.answered - m.sent for m in everything if m.bystander == bystander and m.answered])

    lost = sum(1 for m in everything if not m.answered)
    tail = [m.answered for m in everything if m.answered > last_sent]
    step = 0.5  # the answers so far, every half second from the first send (the chart's curves)
    timeline = [0] * (int((last_arrival - first_sent) / step) + 2)
    for m in everything:
        if m.answered:
            timeline[int((m.answered - first_sent) / step) + 1] += 1
    for i in range(1, len(timeline)):
        timeline[i] += timeline[i - 1]
    return {
        "kind": "burst", "users": len(users), "per_user": args.per_user, "messages": len(everything),
        "bystanders": len(bystanders), "conns": conns + (by_conns if by_lanes else 0),
        "send_seconds": round(last_sent - first_sent, 2), "answered": answered, "lost": lost,
        "replies": replies, "pushes": pushes, "unmatched": unmatched, "passed_over": passed_over,
        "answers_per_second": round(answered / max(1e-9, last_arrival - first_sent), 1),
        "last_answer_after_send": round(last_arrival - last_sent, 2),
        # After the last send only the workers are busy: with a backlog left, this is their rate.
        "drain_after_send_per_second": round(len(tail) / max(1e-9, last_arrival - last_sent), 1) if tail else 0.0,
        "answered_after_send": len(tail), "timeline_step": step, "timeline": timeline,
        "webhook": percentiles(webhook), "e2e": latencies(False), "bystander_e2e": latencies(True),
        "errors": counts["errors"], "reconnects": counts["reconnects"], "requests": counts["requests"],
        "elapsed": round(time.perf_counter() - first_sent, 2), "completed": answered,
        "loadgen_cpu_ms_per_request": round(own_cpu / max(1, len(everything)), 3),
        "loadgen_cpu_share": round(own_cpu / 1000 / max(1e-9, time.perf_counter() - first_sent), 3),
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
