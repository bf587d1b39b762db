"""What the load generator puts on the wire and hears back: signed webhook bodies as LINE sends
them, the HTTP answer read off a keep-alive connection, the fake LINE's announcements of the
replies and pushes it received (UDP, see ``bench.fakeline``), and the percentiles reported.

Shared by the closed loop (``bench.loadgen``) and the open-loop bursts (``bench.burstgen``);
``bench.turn`` signs its bodies here too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

CHANNEL_SECRET = "bench-channel-secret"
BOT_USER_ID = "U" + "0" * 32


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


async def open_connection(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
    return reader, writer
