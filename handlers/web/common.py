"""Web plumbing shared by every page: CSRF, security headers, /healthz, error pages, and the small
helpers the My Page and its settings pages share (the clock, the database, limits, typed fields)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot.normalize import nfkc
from storage.limits import Limits
from storage.state import StateStore

log = logging.getLogger(__name__)
bp = Blueprint("web", __name__)
csrf = CSRFProtect()

MAX_FIELD = 254  # the longest typed field kept (a mail address)
RETRY_AFTER_SECONDS = 60
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


# -- helpers shared by the pages ------------------------------------------------------------------


def database():
    """The app's database (``storage.db``): ``with database().begin() as db: ...``."""
    return current_app.extensions["db"]


def state_store() -> StateStore:
    """The LINE conversation state (``storage.state``): the My Page ends a conversation with the link."""
    return current_app.extensions["state"]


def limits() -> Limits:
    """The Redis counters and blocks (``storage.limits``): login, settings and reminder throttles."""
    return current_app.extensions["limits"]


def redis_client():
    """The app's Redis client (the LINE account-link attempts, ``storage.link_attempts``)."""
    return current_app.extensions["redis"]


def secure_cookies() -> bool:
    """Cookies of ours are Secure when the site is served over https (as the session cookie is)."""
    return current_app.config["PUBLIC_BASE_URL"].startswith("https://")


def counter_ident(value: str) -> str:
    """Counter identity: a keyed hash (HMAC-SHA256 under a key derived from ``SECRET_KEY``), so
    Redis key names hold no login ID, client address or mail address, nor a plain hash that a
    dictionary or the 2^32 IPv4 addresses would reverse. Rotating ``SECRET_KEY``
    starts every counter afresh (docs/deployment.md)."""
    return hmac.new(_counter_key(), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _counter_key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    return hmac.new(secret.encode("utf-8") if isinstance(secret, str) else secret, b"aicom:redis-key-names",
                    hashlib.sha256).digest()


def client_address() -> str:
    """The address the request came from (counted for throttling, never logged)."""
    return request.remote_addr or "unknown"


def form_text(name: str) -> str | None:
    """A typed field: NFKC, stripped, cut to ``MAX_FIELD``; None when it holds control characters.

    Nothing typed into a text box holds them, and PostgreSQL refuses NUL outright (a 500
    whose log line would carry the typed value), so such input never reaches a query.
    """
    value = nfkc(request.form.get(name, ""))[:MAX_FIELD]
    return None if CONTROL_RE.search(value) else value


def unavailable_page():
    """503 with the polite 「ただいまご利用いただけません」 page and ``Retry-After``."""
    response = current_app.make_response((render_template("mypage/unavailable.html", kind="unavailable"), 503))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# -- pages ---------------------------------------------------------------------------------------
@bp.get("/")
def home():
    """The site's root opens the My Page (which asks for login first)."""
    return redirect(url_for("mypage.menu"))


@bp.get("/healthz")
def healthz():
    """200 when the database and Redis answer; 503 naming the one that does not."""
    checks: dict[str, str] = {}
    try:
        current_app.extensions["db"].ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        current_app.extensions["redis"].ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    failing = [name for name, v in checks.items() if v != "ok"]
    body = {"status": "ok" if ok else "unavailable", **checks}
    if failing:
        body["failing"] = failing
    return jsonify(body), 200 if ok else 503


def _security_headers(response):
    """Headers every page carries; HTML is never cached (it may show personal data)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if current_app.config["PUBLIC_BASE_URL"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_error(error: CSRFError):
    return render_template("error.html", kind="csrf"), 400


def _not_found(_error):
    if request.path in ("/callback",) or request.path.startswith(
            ("/slack/", "/emulator/line/", "/emulator/line-data/")):
        return jsonify({"message": "Not found"}), 404
    return render_template("error.html", kind="not_found"), 404


def _method_not_allowed(error):
    if request.path in ("/callback",) or request.path.startswith(("/slack/", "/emulator/")):
        return jsonify({"message": "Method not allowed"}), 405, {"Allow": ", ".join(error.valid_methods or [])}
    return render_template("error.html", kind="method"), 405


def init_app(app: Flask) -> None:
    """CSRF for every form (the webhooks exempt their blueprints: they are signed), headers, health."""
    csrf.init_app(app)  # app.extensions["csrf"]: the signed webhooks exempt themselves
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _method_not_allowed)
    app.register_blueprint(bp)
