"""POST /slack/events and /slack/interactions: verify, deduplicate, queue, answer at once.

Slack gives us 3 seconds and retries what it thinks failed (``X-Slack-Retry-Num``), so
nothing here talks to Slack, LINE or the database: the signature is checked over the raw
body (``SignatureVerifier``: HMAC-SHA256 of ``v0:<timestamp>:<body>``, timestamps older
than 5 minutes refused; 401 otherwise), the ``event_id`` is claimed in Redis so a retry is
processed once, and the work becomes a job (``handlers.slack.threads``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from flask import Blueprint, abort, current_app, jsonify, request

from handlers import jobs
from handlers.slack import threads
from handlers.slack.client import verifier
from storage.keys import slack_event_key

log = logging.getLogger(__name__)
bp = Blueprint("slack", __name__)

EVENT_SEEN_SECONDS = 24 * 3600  # Slack retries for minutes; remember for a day
EVENT_FIELDS = frozenset({"type", "subtype", "channel", "user", "bot_id", "ts", "thread_ts", "text"})


def _verified_body() -> bytes:
    """The raw body, after Slack's signature and timestamp check: any failure of the check (a bad
    or stale signature, a timestamp that is no number, a body that is not UTF-8, a signature
    with characters outside ASCII) is 401, never a traceback."""
    body = request.get_data(cache=True)
    check = verifier()
    try:
        valid = check is not None and check.is_valid(body, request.headers.get("X-Slack-Request-Timestamp"),
                                                      request.headers.get("X-Slack-Signature"))
    except (ValueError, TypeError, UnicodeError, OverflowError):
        valid = False
    if not valid:
        log.warning("Slack request with a bad or stale signature refused")
        abort(401)
    return body


def _object(value: Any) -> dict[str, Any]:
    """A payload field that should be an object: ``{}`` when the sender put anything else there."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A payload field that should be a short string: ``""`` when it is anything else."""
    return value if isinstance(value, str) else ""


@bp.post("/slack/events")
def events():
    """The Events API: url_verification, and message events queued for ``threads.slack_event_job``."""
    body = _verified_body()
    try:
        payload = json.loads(body)
    except ValueError:
        abort(400)
    if not isinstance(payload, dict):
        abort(400)
    if payload.get("type") == "url_verification":
        return jsonify({"challenge": payload.get("challenge", "")})
    if payload.get("type") != "event_callback" or not isinstance(payload.get("event"), dict):
        return "", 200
    event_id = _text(payload.get("event_id"))
    if event_id:
        try:
            first = current_app.extensions["redis"].set(slack_event_key(event_id), "1", nx=True,
                                                        ex=EVENT_SEEN_SECONDS)
        except redis.RedisError:
            log.error("Slack event could not be claimed; asking Slack to retry")
            return "temporarily unavailable", 503
        if not first:
            log.info("Slack event retry ignored (attempt %s)", request.headers.get("X-Slack-Retry-Num", "?"))
            return "", 200
    # Only the string fields the job reads are queued: a field of another shape is treated as absent.
    event = {key: value for key, value in payload["event"].items() if key in EVENT_FIELDS and isinstance(value, str)}
    jobs.enqueue(threads.slack_event_job, event=event, team_id=_text(payload.get("team_id")) or None)
    return "", 200


@bp.post("/slack/interactions")
def interactions():
    """Interactivity (``payload=`` form): the 対応完了 button (``close_handoff``) is queued."""
    _verified_body()
    try:
        payload = json.loads(request.form.get("payload", ""))
    except ValueError:
        abort(400)
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return "", 200
    # Signed by Slack, but read as if it were not: a field of the wrong shape is treated as absent.
    user, message = _object(payload.get("user")), _object(payload.get("message"))
    container = _object(payload.get("container"))
    channel = _text(_object(payload.get("channel")).get("id")) or _text(container.get("channel_id"))
    team = _text(_object(payload.get("team")).get("id")) or None
    actions = payload.get("actions") if isinstance(payload.get("actions"), list) else []
    for action in map(_object, actions):
        if action.get("action_id") != threads.CLOSE_ACTION_ID:
            continue
        jobs.enqueue(threads.slack_close_job, handoff_id=_text(action.get("value")),
                     message_ts=_text(message.get("ts")) or _text(container.get("message_ts")),
                     channel=channel, team_id=team, staff_id=_text(user.get("id")),
                     staff_name=_text(user.get("name")) or _text(user.get("username")) or _text(user.get("id"))
                     or "staff")
    return "", 200
