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

import redis
from flask import Blueprint, abort, current_app, jsonify, request

from handlers import jobs
from handlers.slack import threads
from handlers.slack.client import verifier
from storage.state import slack_event_key

log = logging.getLogger(__name__)
bp = Blueprint("slack", __name__)

EVENT_SEEN_SECONDS = 24 * 3600  # Slack retries for minutes; remember for a day


def _verified_body() -> bytes:
    """The raw body, after Slack's signature and timestamp check (401 on failure)."""
    body = request.get_data(cache=True)
    check = verifier()
    if check is None or not check.is_valid(body, request.headers.get("X-Slack-Request-Timestamp"),
                                           request.headers.get("X-Slack-Signature")):
        log.warning("Slack request with a bad or stale signature refused")
        abort(401)
    return body


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
    event_id = str(payload.get("event_id") or "")
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
    jobs.enqueue(threads.slack_event_job, event=payload["event"], team_id=payload.get("team_id"))
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
    user = payload.get("user") or {}
    message = payload.get("message") or {}
    channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
    team = (payload.get("team") or {}).get("id")
    for action in payload.get("actions") or []:
        if action.get("action_id") != threads.CLOSE_ACTION_ID:
            continue
        jobs.enqueue(threads.slack_close_job, handoff_id=str(action.get("value") or ""),
                     message_ts=str(message.get("ts") or (payload.get("container") or {}).get("message_ts") or ""),
                     channel=str(channel or ""), team_id=team,
                     staff_id=str(user.get("id") or ""),
                     staff_name=str(user.get("name") or user.get("username") or user.get("id") or "staff"))
    return "", 200
