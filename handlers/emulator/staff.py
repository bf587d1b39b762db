"""The emulator's staff pane: where escalations go when Slack is not configured.

It plays the part of the Slack thread: the handoff's outbox (``storage.handoffs``) is
drained into the page's timeline as ``staff`` entries, in order, by one job at a time,
exactly as the Slack edge drains it into Slack; the pane's reply box and 「対応完了」 call
the same conversation functions (``bot.flows.handoff``) the Slack edge calls, and the
customer gets the answer through the LINE edge's push job, queued by path.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from bot.flows import handoff as handoff_flow
from bot.types import PushReplies
from handlers import clock, jobs
from handlers.emulator.page import bp
from storage import handoffs
from storage.models import Handoff, HandoffMessage

# The routes join the emulator's blueprint: loopback only, CSRF-exempt, off when the emulator is.
STAFF_NAME = "エミュレーターの担当者"


def show_in_pane(handoff: Handoff, message: HandoffMessage, payload: dict[str, Any]) -> None:
    """One outbox row as a ``staff`` entry of the timeline (the pane renders it)."""
    entry: dict[str, Any] = {"handoff_id": handoff.id, "what": message.kind, "payload": payload}
    if message.kind == "opened":
        entry["display_name"] = current_app.extensions["emulator_recorder"].profile(handoff.line_user_id).get(
            "displayName")
    current_app.extensions["emulator_log"].add("staff", users=[handoff.line_user_id], **entry)


def staff_pane_outbox_job(handoff_id: int) -> None:
    """Show everything pending for this handoff in the staff pane, in order."""
    handoffs.drain(current_app.extensions["db"].sessions, current_app.extensions["redis"], handoff_id,
                   show_in_pane, clock.now)


def _user_from_request() -> str | None:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), str):
        return None
    return payload["user"]


@bp.post("/emulator/api/staff/reply")
def staff_reply():
    """The staff pane's reply box: the text goes to the customer by push, and into the pane."""
    user_id = _user_from_request()
    text = str((request.get_json(silent=True) or {}).get("text") or "").strip()
    if not user_id or not text:
        return jsonify({"error": "user and text are required"}), 400
    now = clock.now()
    with current_app.extensions["db"].begin() as session:
        handoff = handoffs.find_open(session, user_id, lock=True)
        if handoff is None:
            return jsonify({"error": "this user has no open handoff"}), 409
        note = handoff_flow.is_staff_note(text)
        replies = [] if note else handoff_flow.staff_reply(handoff, text, now)
        handoffs.add_message(session, handoff, "note" if note else "staff", {"text": text, "staff": STAFF_NAME}, now)
        handoff_id = handoff.id
    jobs.enqueue(staff_pane_outbox_job, handoff_id=handoff_id)
    if replies:
        jobs.perform(PushReplies(user_id, tuple(replies)))
    return jsonify({"ok": True})


@bp.post("/emulator/api/staff/close")
def staff_close():
    """「対応完了」 in the staff pane: the handoff ends and the bot answers again."""
    user_id = _user_from_request()
    if not user_id:
        return jsonify({"error": "user is required"}), 400
    with current_app.extensions["db"].begin() as session:
        handoff = handoffs.find_open(session, user_id, lock=True)
        if handoff is None:
            return jsonify({"error": "this user has no open handoff"}), 409
        replies = handoff_flow.close_by_staff(session, handoff, STAFF_NAME, clock.now())
        handoff_id = handoff.id
    jobs.enqueue(staff_pane_outbox_job, handoff_id=handoff_id)
    if replies:
        jobs.perform(PushReplies(user_id, tuple(replies)))
    return jsonify({"ok": True})

