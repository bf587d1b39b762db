"""The local LINE emulator at /emulator (``EMULATOR=1``, on under ``make run``).

LINE has no local emulator, so this one stands in for the LINE app and LINE's servers:

- the page (``GET /emulator``) is a phone-sized chat plus panes (mailbox, raw log, ...);
- ``POST /emulator/api/send`` builds a real webhook body (every field LINE sends), signs
  it with the channel secret and posts it over HTTP to our own ``/callback``, so the real
  handler runs exactly as it would behind LINE;
- the bot answers through the real line-bot-sdk client to the fake Messaging API mounted
  at ``/emulator/line`` (``LINE_API_BASE_URL`` points there), which validates each call as
  LINE would and records it; ``GET /emulator/api/log`` hands the page what happened since
  its last poll (webhooks posted, API calls with status and errors);
- ``GET /emulator/api/mailbox`` shows the development mailbox (mail when ``SMTP_URL`` is unset);
- ``GET /emulator/account-link`` stands in for LINE's account-link dialog
  (``LINE_ACCOUNT_LINK_URL`` points there): the web login sends the browser to it with
  ``linkToken`` and ``nonce``, and it posts the ``accountLink`` event LINE would send for
  the user the link token was issued to (``result`` ``failed`` once the token is used or
  older than 10 minutes; an unknown token sends nothing, as LINE has no user to send it to).

Nothing in ``bot/`` knows any of this exists. Every route answers 404 when the emulator is
off (the blueprint is never registered) and 403 to clients other than loopback (``loopback``).

This module holds the page's routes and ``init_app``, which wires the rest: the webhook
builder and poster (``webhook_events``), the page's ``timeline``, the fake LINE's memory in
Redis (``redis_recorder``) behind the fake Messaging API (``line_api_fake``,
``line_api_fake_richmenu``), and the development ``mailbox``. The staff pane (``staff``) adds
its routes to this blueprint.
"""

from __future__ import annotations

import logging
import re
import secrets

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from bot import demo as demo_data
from handlers.emulator import mailbox as dev_mailbox
from handlers.emulator.line_api_fake import make_blueprint
from handlers.emulator.line_api_fake_richmenu import make_data_blueprint
from handlers.emulator.loopback import loopback_only
from handlers.emulator.redis_recorder import EmulatorRecorder
from handlers.emulator.timeline import EmulatorLog
from handlers.emulator.webhook_events import build_event, deliver_event, is_line_user_id

log = logging.getLogger(__name__)
bp = Blueprint("emulator", __name__)
bp.before_request(loopback_only)

EVENT_TYPES = ("text", "postback", "sticker", "image", "follow", "unfollow")
DELIVERED_KINDS = ("reply", "push", "multicast")
_LINK_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]{1,200}")
_NONCE_RE = re.compile(r"[\x21-\x7e]{10,255}")  # LINE asks for a nonce of 10-255 characters


def slack_configured(config=None) -> bool:
    """Slack takes escalations when its three settings are set (then the staff pane stays empty)."""
    config = current_app.config if config is None else config
    return bool(config.get("SLACK_BOT_TOKEN") and config.get("SLACK_SIGNING_SECRET") and config.get("SLACK_CHANNEL_ID"))


# -- routes -----------------------------------------------------------------------------------
@bp.get("/emulator")
def page():
    """The emulator page (its script and styles are static files: the CSP forbids inline ones)."""
    return render_template("emulator.html", demo_customers=demo_customers(), slack_configured=slack_configured(),
                           destination=current_app.extensions["emulator_destination"])


@bp.post("/emulator/api/send")
def send():
    """Post one signed webhook event to /callback as LINE would, and say how /callback answered."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"error": "a JSON object is expected"}), 400
    user_id, event_type = payload.get("user"), payload.get("type", "text")
    if not is_line_user_id(user_id):
        return jsonify({"error": "user must be a LINE user ID: U followed by 32 hex digits"}), 400
    if event_type not in EVENT_TYPES:
        return jsonify({"error": f"type must be one of {', '.join(EVENT_TYPES)}"}), 400
    text, data = payload.get("text", ""), payload.get("data", "")
    if event_type == "text" and (not isinstance(text, str) or not text):
        return jsonify({"error": "text must not be empty"}), 400
    if event_type == "postback" and (not isinstance(data, str) or not data):
        return jsonify({"error": "data must not be empty"}), 400
    display = payload.get("displayText") if event_type == "postback" else None
    name = payload.get("displayName")
    recorder: EmulatorRecorder = current_app.extensions["emulator_recorder"]
    if isinstance(name, str) and name:
        recorder.set_profile(user_id, name[:20])

    event = build_event(user_id, event_type, text=text, data=data)
    status, answer = deliver_event(user_id, event_type, event, display if isinstance(display, str) else None,
                                   background=payload.get("wait") is False)
    return jsonify({"status": status, "response": answer, "webhookEventId": event["webhookEventId"]})


@bp.get("/emulator/account-link")
def account_link():
    """LINE's account-link dialog: send the ``accountLink`` event for the user the link token belongs to."""
    link_token, nonce = request.args.get("linkToken", ""), request.args.get("nonce", "")
    if not _LINK_TOKEN_RE.fullmatch(link_token) or not _NONCE_RE.fullmatch(nonce):
        return render_template("emulator_account_link.html", outcome="bad_request"), 400
    recorder: EmulatorRecorder = current_app.extensions["emulator_recorder"]
    outcome, user_id = recorder.spend_link_token(link_token)
    if user_id is None:
        log.info("emulator account link: unknown link token")
        return render_template("emulator_account_link.html", outcome="unknown"), 404
    result = "ok" if outcome == "ok" else "failed"
    event = build_event(user_id, "accountLink", link={"result": result, "nonce": nonce})
    status, _answer = deliver_event(user_id, "accountLink", event)
    log.info("emulator account link: accountLink event (%s) posted, /callback answered %s", result, status)
    return render_template("emulator_account_link.html", outcome=outcome, callback_status=status,
                           result=result), 200 if outcome == "ok" else 410


@bp.get("/emulator/api/log")
def timeline_after():
    """What happened after ``after`` (a sequence number); ``user`` keeps one user's entries only."""
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        after = 0
    user_id = request.args.get("user")
    entries, last = current_app.extensions["emulator_log"].after(after)
    if user_id:
        entries = [e for e in entries if user_id in e.get("users", [])]
    return jsonify({"entries": entries, "last": last})


@bp.get("/emulator/api/messages")
def delivered_messages():
    """Messages delivered to ``user`` (reply, push, multicast) after ``after``, in order."""
    user_id = request.args.get("user", "")
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        after = 0
    entries, last = current_app.extensions["emulator_log"].after(after)
    messages = [
        {"seq": e["seq"], "api": e["api"], "message": message}
        for e in entries
        if e["kind"] == "api" and e["api"] in DELIVERED_KINDS and e["status"] == 200 and user_id in e["users"]
        for message in (e["body"] or {}).get("messages", [])
    ]
    return jsonify({"messages": messages, "last": last})


@bp.get("/emulator/api/mailbox")
def mailbox():
    """The development mailbox (mail sent while ``SMTP_URL`` is unset), newest first."""
    return jsonify({"mails": dev_mailbox.mails(current_app.extensions["redis"]),
                    "smtp": bool(current_app.config.get("SMTP_URL"))})


@bp.get("/emulator/api/demo-customers")
def demo_customers_json():
    """Customers to register with (number, phone, kana)."""
    return jsonify({"customers": demo_customers()})


def demo_customers(limit: int = 5) -> list[dict[str, str]]:
    """The seed-demo customers (number, phone, kana, a note), or failing that a few from the database."""
    if getattr(demo_data, "DEMO_CUSTOMERS", None):
        without = getattr(demo_data, "DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT", None)
        return [{"customer_number": c.customer_number, "phone": c.phone, "name_kana": c.name_kana,
                 "note": "今月の明細なし" if c.customer_number == without else ""}
                for c in list(demo_data.DEMO_CUSTOMERS)[:limit]]
    from sqlalchemy import select

    from storage.models import Customer

    try:
        with current_app.extensions["db"].begin() as session:
            rows = session.scalars(select(Customer).order_by(Customer.id).limit(limit)).all()
            return [{"customer_number": c.customer_number, "phone": c.phone, "name_kana": c.name_kana, "note": ""}
                    for c in rows]
    except Exception:  # noqa: BLE001 - an unmigrated database must not break the page
        log.warning("emulator could not list customers")
        return []


def init_app(app: Flask) -> None:
    """Mount the fake Messaging API under /emulator/line and the emulator page and its API.

    Unless ``LINE_ACCOUNT_LINK_URL`` is set, the web login sends account-link browsers to
    the emulator's stand-in for LINE's dialog instead of access.line.me.
    """
    if not app.config.get("LINE_ACCOUNT_LINK_URL"):
        app.config["LINE_ACCOUNT_LINK_URL"] = app.config["PUBLIC_BASE_URL"] + "/emulator/account-link"
    timeline = EmulatorLog(app.extensions["redis"])
    recorder = EmulatorRecorder(app.config["LINE_CHANNEL_ACCESS_TOKEN"], timeline)
    app.extensions["emulator_recorder"] = recorder
    app.extensions["emulator_log"] = timeline
    app.extensions["emulator_destination"] = "U" + secrets.token_hex(16)  # the bot's own user ID
    dev_mailbox.init_app(app)  # where mail goes while SMTP_URL is unset
    line_api = make_blueprint(recorder, name="emulator_line_api")
    csrf = app.extensions["csrf"]  # Flask-WTF's, set up by the web edge first
    csrf.exempt(line_api)
    csrf.exempt(bp)  # JSON from the page, loopback only, and only while the emulator is on
    app.register_blueprint(line_api, url_prefix="/emulator/line")
    line_data_api = make_data_blueprint(recorder, name="emulator_line_data_api")  # LINE's data host
    csrf.exempt(line_data_api)
    app.register_blueprint(line_data_api, url_prefix="/emulator/line-data")
    app.register_blueprint(bp)
