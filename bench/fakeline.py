"""``python -m bench.fakeline PORT NOTIFY_PORT``: the fake LINE Messaging API in its own process (load test).

The tests' ``handlers.emulator.line_api_fake`` blueprint and ``LineApiRecorder``, served by
werkzeug's threaded server with ``TCP_NODELAY`` on every accepted socket (without it each
keep-alive response waits ~40 ms for the client's delayed ACK). One request body in
``VALIDATE_EVERY`` is checked against LINE's OpenAPI spec (all of them would make the fake
the bottleneck); an invalid body is counted and answered 400 as LINE would. Each accepted
reply or push is announced to the load generator as a UDP datagram (the reply token, or
``push:<user>``) so it can time a turn end to end: POST sent → reply received here.
``GET /bench/stats`` tells how many calls were answered and how many were refused.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

VALIDATE_EVERY = 20
ACCESS_TOKEN = "bench-access-token"


class NoDelayHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as LINE's API: a connection per reply would cost the client a connect

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, *args, **kwargs) -> None:  # no access log: it would cost more than the answer
        pass


def build(notify_port: int) -> Flask:
    from handlers.emulator import line_schema
    from handlers.emulator.line_api_fake import LineApiRecorder, make_blueprint

    recorder = LineApiRecorder(ACCESS_TOKEN)
    line_schema.validate("ReplyMessageRequest", {"replyToken": "x", "messages": [{"type": "text", "text": "x"}]})
    app = Flask("bench_fake_line")
    app.register_blueprint(make_blueprint(recorder))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stats = {"answered": 0, "refused": 0, "validated": 0, "replies": 0, "pushes": 0, "loading": 0}
    lock = threading.Lock()
    counter = iter(range(1 << 62))

    @app.before_request
    def _choose() -> None:
        with lock:
            recorder.validate = next(counter) % VALIDATE_EVERY == 0
            if recorder.validate:
                stats["validated"] += 1

    @app.after_request
    def _announce(response):
        path = request.path
        with lock:
            stats["answered" if response.status_code < 300 else "refused"] += 1
            if len(recorder.calls) > 2000:  # keep the fake's memory flat
                recorder.clear()
                recorder.invalid_reply_tokens.clear()
        if response.status_code == 200 and path.endswith("/message/reply"):
            body = request.get_json(silent=True) or {}
            stats["replies"] += 1
            udp.sendto(str(body.get("replyToken", "")).encode(), ("127.0.0.1", notify_port))
        elif response.status_code == 200 and path.endswith("/message/push"):
            body = request.get_json(silent=True) or {}
            stats["pushes"] += 1
            udp.sendto(f"push:{body.get('to', '')}".encode(), ("127.0.0.1", notify_port))
        elif path.endswith("/loading/start"):
            stats["loading"] += 1
        return response

    @app.get("/bench/stats")
    def _stats():
        return jsonify(stats)

    @app.get("/bench/refused")
    def _refused():
        return jsonify([{"path": c.path, "status": c.status, "errors": c.errors[:3]}
                        for c in recorder.calls if c.status >= 300][:20])

    return app


def main() -> int:
    port, notify_port = int(sys.argv[1]), int(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)
    server = make_server("127.0.0.1", port, build(notify_port), threaded=True, request_handler=NoDelayHandler)
    print(json.dumps({"ready": port}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
