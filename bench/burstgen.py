"""The load generator's open loop (``python -m bench.loadgen --kind burst``), as a crowd or a flood
reaches LINE.

Every user in ``--users`` sends ``--per-user`` messages (``今月の料金``), all spread evenly over
``--send-seconds``, each signed as it is sent (its ``timestamp`` is the moment it was sent: the
reply token's age counts from there); no connection waits for an answer before sending the
next. A user's messages go over one connection, in order. ``--bystanders``: other users who
each send one message, evenly spaced during the burst (their latency shows whether the burst
holds them back). Then it waits until every message has its answer (or nothing has arrived for
``--idle`` seconds) and reports: answers a second (answered messages ÷ first send → last
answer), the time from the last send to the last answer, replies and pushes as the fake LINE
announced them, and the bystanders' and the burst's latencies. A person's answers come in the
order they were sent, so an answer to a later message while an earlier one has none marks the
earlier one "passed over" (a flood answered once; otherwise a broken order); a message with
neither at the end is "lost". A push names only its person: it answers their oldest.

``bench.loadgen`` parses the command line and runs this; bodies, answers and announcements come
from ``bench.wire``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time

from bench.wire import (
    BOT_USER_ID,
    Announcements,
    http_request,
    open_connection,
    percentiles,
    read_answer,
    text_event_dict,
)

MAX_EVENTS_PER_BODY = 20  # a connection behind schedule sends what is due in one body, up to this


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
    announcements, transport = await listen(args.notify_port)
    lanes, by_grouped = make_lanes(args.users, args.bystanders, args.conns, args.per_user)
    everything = [m for lane in lanes + by_grouped for m in lane]
    webhook: list[float] = []
    counts = {"errors": 0, "reconnects": 0, "requests": 0}
    cpu0 = os.times()
    await send_all(args.port, args.send_seconds, lanes, by_grouped, webhook, counts)
    last_sent = max(m.sent for m in everything)
    book = await wait_for_answers(announcements, everything, last_sent, args.idle, args.max_wait)
    cpu1 = os.times()
    transport.close()
    own_cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) * 1000
    conns = len(lanes) + (len(by_grouped) if args.bystanders else 0)
    return summary(args, everything, conns, book, webhook, counts, own_cpu, last_sent)


async def listen(notify_port: int) -> tuple[Announcements, asyncio.DatagramTransport]:
    """Hear the fake LINE's announcements, every one recorded with the moment it came."""
    loop = asyncio.get_running_loop()
    announcements = Announcements()
    announcements.record = True
    transport, _ = await loop.create_datagram_endpoint(lambda: announcements,
                                                       local_addr=("127.0.0.1", notify_port))
    # Thousands of announcements a second while this process is busy sending: a deep buffer
    # (the kernel caps it at net.core.rmem_max), or some are dropped and counted as lost.
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    return announcements, transport


def make_lanes(users: list[str], bystanders: list[str], conns: int,
               per_user: int) -> tuple[list[list[BurstMessage]], list[list[BurstMessage]]]:
    """The burst's messages per connection, and the bystanders' on up to 4 connections of their own."""
    conns = max(1, min(conns, len(users)))
    lanes: list[list[BurstMessage]] = [[] for _ in range(conns)]
    for _ in range(per_user):  # a user's messages on one connection, users taking turns
        for u, user in enumerate(users):
            lanes[u % conns].append(BurstMessage(user, bystander=False))
    by_lanes = [[BurstMessage(user, bystander=True)] for user in bystanders]
    by_conns = max(1, min(4, len(by_lanes)))
    by_grouped: list[list[BurstMessage]] = [sum(by_lanes[c::by_conns], []) for c in range(by_conns)]
    return lanes, by_grouped


async def send_all(port: int, send_seconds: float, lanes: list[list[BurstMessage]],
                   by_grouped: list[list[BurstMessage]], webhook: list[float], counts: dict) -> None:
    """Every lane on a connection of its own, paced to spread its messages over ``send_seconds``."""
    start = time.perf_counter() + 0.2
    tasks = [burst_connection(port, lane, start, send_seconds / max(1, len(lane)), webhook, counts)
             for lane in lanes if lane]
    # Bystanders start a little after the burst (their partitions have a backlog by then).
    tasks += [burst_connection(port, lane, start + send_seconds * 0.1,
                               send_seconds * 0.8 / max(1, len(lane)), webhook, counts)
              for lane in by_grouped if lane]
    await asyncio.gather(*tasks)


class AnswerBook:
    """The fake LINE's announcements matched to the burst's messages, in each person's order."""

    def __init__(self, everything: list[BurstMessage], last_sent: float) -> None:
        self.by_token = {m.token: m for m in everything}
        self.unanswered: dict[str, list[BurstMessage]] = {}
        for m in everything:
            self.unanswered.setdefault(m.user, []).append(m)
        self.replies = self.pushes = self.unmatched = self.passed_over = self.answered = 0
        self.last_arrival = last_sent

    def take(self, when: float, key: str) -> None:
        """One announcement: a reply token, or ``push:<user>`` (which answers that person's oldest)."""
        if key.startswith("push:"):
            queue = self.unanswered.get(key[5:])
            message = queue[0] if queue else None
            how = "push"
        else:
            message = self.by_token.get(key)
            how = "reply"
        if message is None or message.answered:
            self.unmatched += 1
            return
        queue = self.unanswered[message.user]
        while queue[0] is not message:  # a later message answered first: the earlier ones were
            earlier = queue.pop(0)      # passed over (a flood answered once, or order broken)
            earlier.answered, earlier.how = when, "passed over"
            self.passed_over += 1
        queue.pop(0)
        message.answered, message.how = when, how
        self.replies += how == "reply"
        self.pushes += how == "push"
        self.answered += 1
        self.last_arrival = max(self.last_arrival, when)


async def wait_for_answers(announcements: Announcements, everything: list[BurstMessage], last_sent: float,
                           idle: float, max_wait: float) -> AnswerBook:
    """Wait for the answers: every message answered, or nothing new for ``idle`` seconds."""
    book = AnswerBook(everything, last_sent)
    seen = 0
    deadline = time.perf_counter() + max_wait
    while book.answered + book.passed_over < len(everything) and time.perf_counter() < deadline:
        arrivals = announcements.arrivals
        for when, key in arrivals[seen:]:
            book.take(when, key)
        seen = len(arrivals)
        if book.answered + book.passed_over < len(everything):
            if time.perf_counter() - max(book.last_arrival, last_sent) > idle:
                break
            await asyncio.sleep(0.05)
    return book


def timeline_of(everything: list[BurstMessage], first_sent: float, last_arrival: float, step: float) -> list[int]:
    """The answers so far, every ``step`` seconds from the first send (the chart's curves)."""
    timeline = [0] * (int((last_arrival - first_sent) / step) + 2)
    for m in everything:
        if m.answered:
            timeline[int((m.answered - first_sent) / step) + 1] += 1
    for i in range(1, len(timeline)):
        timeline[i] += timeline[i - 1]
    return timeline


def summary(args, everything: list[BurstMessage], conns: int, book: AnswerBook, webhook: list[float],
            counts: dict, own_cpu: float, last_sent: float) -> dict:
    """The JSON the burst prints: counts, rates, the timeline, latencies, the generator's own CPU."""
    first_sent = min(m.sent for m in everything)
    last_arrival, answered = book.last_arrival, book.answered

    def latencies(bystander: bool) -> dict:
        return percentiles([m.answered - m.sent for m in everything if m.bystander == bystander and m.answered])

    lost = sum(1 for m in everything if not m.answered)
    tail = [m.answered for m in everything if m.answered > last_sent]
    step = 0.5
    timeline = timeline_of(everything, first_sent, last_arrival, step)
    return {
        "kind": "burst", "users": len(args.users), "per_user": args.per_user, "messages": len(everything),
        "bystanders": len(args.bystanders), "conns": conns,
        "send_seconds": round(last_sent - first_sent, 2), "answered": answered, "lost": lost,
        "replies": book.replies, "pushes": book.pushes, "unmatched": book.unmatched, "passed_over": book.passed_over,
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
