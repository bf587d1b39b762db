"""Web plumbing shared by every page: CSRF, security headers, /healthz, error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

log = logging.getLogger(__name__)
bp = Blueprint("web", __name__)
csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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
