"""A local stand-in for Slack's Web API: the real slack_sdk client posts to it over HTTP.

It answers ``auth.test``, ``chat.postMessage`` and ``chat.update`` as Slack does
(``{"ok": true, ...}``), records every call, and can be told to fail the next calls.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

TEAM_ID = "T0OURTEAM"
BOT_USER_ID = "U0OURBOT"
BOT_ID = "B0OURBOT"


@dataclass
class SlackCall:
    """One Web API call."""

    method: str
    args: dict[str, Any]
    token: str
    ok: bool = True


@dataclass
class FakeSlack:
    """What the bot asked Slack to do; thread-safe."""

    calls: list[SlackCall] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)  # Slack error codes to answer next, e.g. "ratelimited"
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.fail_next.clear()

    def of(self, method: str) -> list[SlackCall]:
        """The calls of one method that Slack accepted."""
        with self._lock:
            return [c for c in self.calls if c.method == method and c.ok]

    def posts(self, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """chat.postMessage arguments, optionally only those in one thread."""
        return [c.args for c in self.of("chat.postMessage")
                if thread_ts is None or c.args.get("thread_ts") == thread_ts]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    def answer(self, method: str, args: dict[str, Any], token: str) -> tuple[dict[str, Any], int]:
        with self._lock:
            if self.fail_next:
                error = self.fail_next.pop(0)
                self.calls.append(SlackCall(method, args, token, ok=False))
                return {"ok": False, "error": error}, 429 if error == "ratelimited" else 200
            self.calls.append(SlackCall(method, args, token))
            if method == "auth.test":
                return {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                        "team": "aicom", "user": "aicom-bot"}, 200
            if method == "chat.postMessage":
                self._seq += 1
                ts = f"1764000000.{self._seq:06d}"
                return {"ok": True, "channel": args.get("channel"), "ts": ts,
                        "message": {"text": args.get("text"), "ts": ts}}, 200
            if method == "chat.update":
                return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}, 200
            return {"ok": False, "error": "unknown_method"}, 200


def make_app(fake: FakeSlack) -> Flask:
    app = Flask("fake_slack")

    @app.post("/api/<method>")
    def api(method: str):
        args: dict[str, Any] = {}
        if request.is_json:
            args = request.get_json(silent=True) or {}
        else:
            args = dict(request.form.items()) or dict(request.args.items())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body, status = fake.answer(method, args, token)
        # One piece, with its length: the client reads it at once.
        return Response(json.dumps(body), status=status, mimetype="application/json",
                        headers={"Retry-After": "0"} if status == 429 else None)

    return app


class _NoDelayHandler(WSGIRequestHandler):
    """Headers and body are written separately: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class FakeSlackServer:
    """The fake on a free local port."""

    def __init__(self) -> None:
        self.fake = FakeSlack()
        self.server = make_server("127.0.0.1", 0, make_app(self.fake), threaded=True,
                                  request_handler=_NoDelayHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
