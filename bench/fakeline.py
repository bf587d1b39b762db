"""``python -m bench.fakeline PORT NOTIFY_PORT``: the fake LINE Messaging API in its own process (load test).

The tests' ``handlers.emulator.line_api_fake`` blueprint and ``LineApiRecorder``, served by
a small threaded HTTP/1.1 server that keeps connections alive, as LINE's API does
(werkzeug's closes every connection, which made each reply pay a TCP connect at the
client), sets ``TCP_NODELAY`` on every accepted socket and writes each response in one
piece (headers and body written apart would wait ~40 ms for the client's delayed ACK). One request body in
``VALIDATE_EVERY`` is checked against LINE's OpenAPI spec (all of them would make the fake
the bottleneck); an invalid body is counted and answered 400 as LINE would. Each accepted
reply or push is announced to the load generator as a UDP datagram (the reply token, or
``push:<user>``) so it can time a turn end to end: POST sent → reply received here.
``GET /bench/stats`` tells how many calls were answered and how many were refused.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from flask import Flask, jsonify, request

VALIDATE_EVERY = 20
ACCESS_TOKEN = "bench-access-token"


class KeepAliveHandler(BaseHTTPRequestHandler):
    """One connection, many requests: each turned into a WSGI call, answered in one write."""

    protocol_version = "HTTP/1.1"
    app = None  # the WSGI application, set by ``serve``

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args) -> None:  # no access log: it would cost more than the answer
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": unquote(path), "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answer: list = []

        def start_response(status, headers, exc_info=None):
            answer[:] = [status, headers]
            return lambda _data: None

        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, headers = answer
        head = f"HTTP/1.1 {status}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers if name.lower() != "content-length")
        self.wfile.write(f"{head}Content-Length: {len(data)}\r\n\r\n".encode("latin-1") + data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


def build(notify_port: int) -> Flask:
    from handlers.emulator import line_schema
    from handlers.emulator.line_api_fake import make_blueprint
    from handlers.emulator.line_api_recorder import LineApiRecorder

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
    handler = type("Handler", (KeepAliveHandler,), {"app": build(notify_port)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    print(json.dumps({"ready": port}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
