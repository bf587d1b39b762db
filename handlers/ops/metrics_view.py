"""``GET /metrics``: Prometheus text for loopback clients, or for ``Authorization: Bearer $METRICS_TOKEN``.

A request carrying ``X-Forwarded-For`` came through a proxy and is never a loopback
client (INTERFACES.md), whatever its socket address. The token is compared in constant
time. Everything else is 403. A scrape reads the metric files (or this process's
registry) and a few Redis counters for the queues: cheap enough for a 15-second interval.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Flask, Response, abort, current_app, request

from handlers import metrics

bp = Blueprint("ops_metrics", __name__)


def _loopback() -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    # ProxyFix rewrites REMOTE_ADDR from the forwarded header; the socket's own address is kept here.
    original = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
    address = original or request.environ.get("REMOTE_ADDR") or ""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _bearer_ok() -> bool:
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return False
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


@bp.get("/metrics")
def scrape():
    """Every metric of every process on this host, plus the live queue gauges."""
    if not (_loopback() or _bearer_ok()):
        abort(403)
    body, content_type = metrics.render(current_app._get_current_object())  # type: ignore[attr-defined]
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the route."""
    app.register_blueprint(bp)
