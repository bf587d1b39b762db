"""POST /callback: verify the signature, dedup, translate to ``Incoming``, run the engine, reply.

Nothing slow runs inside the request: mail and later pushes are queued as jobs
(``handlers.line.delivery`` sends and pushes).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from flask import Blueprint, abort, current_app, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import (
    AccountLinkEvent,
    EventMode,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
)
from sqlalchemy.exc import SQLAlchemyError

from bot import messages
from bot.types import AccountLinkPrompt, EventKind, Incoming, Outcome, TextReply, fields_of
from handlers import jobs
from handlers.line.delivery import deliver, handle_with_loading, link_url, mask_user
from handlers.line.render import render
from storage.state import StateUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__)

def to_incoming(event) -> Incoming | None:
    """The platform-neutral event, or None for events the bot does not take part in."""
    source = getattr(event, "source", None)
    user_id = getattr(source, "user_id", None)
    if not user_id or getattr(source, "type", "user") != "user":
        return None  # groups and rooms: the bot talks one to one only
    if isinstance(event, MessageEvent):
        message = event.message
        if isinstance(message, TextMessageContent):
            return Incoming(user_id, EventKind.TEXT, text=message.text)
        if isinstance(message, StickerMessageContent):
            return Incoming(user_id, EventKind.STICKER)
        return Incoming(user_id, EventKind.MEDIA)
    if isinstance(event, PostbackEvent):
        data = event.postback.data or ""
        return Incoming(user_id, EventKind.POSTBACK, text=data, postback_data=data)
    if isinstance(event, FollowEvent):
        return Incoming(user_id, EventKind.FOLLOW)
    if isinstance(event, UnfollowEvent):
        return Incoming(user_id, EventKind.UNFOLLOW)
    if isinstance(event, AccountLinkEvent):
        link = event.link
        return Incoming(user_id, EventKind.ACCOUNT_LINK, link_nonce=link.nonce or "", link_ok=link.result == "ok")
    return None


def run_effects(outcome: Outcome) -> None:
    """Queue the slow work the conversation asked for: each effect type's job was registered
    by the edge that owns it (``jobs.register_effect``), so this edge imports none of them."""
    for effect in outcome.effects:
        jobs.enqueue_effect(type(effect).__name__, fields_of(effect))


def _fault(exc: BaseException | None) -> str:
    """Where a fault happened: its class and the innermost frame, never its text (which may
    quote what the customer typed, e.g. ``invalid literal for int(): '0748...'``)."""
    if exc is None:
        return "unknown"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return exc.__class__.__name__ + where


def handle_event(event) -> None:
    """One webhook event, exactly once."""
    if getattr(event, "mode", None) == EventMode.STANDBY:
        return  # another channel (module) has the chat; never answer
    incoming = to_incoming(event)
    if incoming is None:
        return
    state = current_app.extensions["state"]
    event_id = getattr(event, "webhook_event_id", None)
    reply_token = getattr(event, "reply_token", None)
    if event_id and not state.claim_event(event_id):
        log.info("duplicate event %s ignored", event_id)
        return
    try:
        outcome = handle_with_loading(incoming)
    except (StateUnavailable, SQLAlchemyError):
        if event_id:
            state.release_event(event_id)
        raise  # the caller asks LINE to redeliver
    except Exception:
        # A fault in a step (a bug, not an outage): nothing was saved, so the customer can
        # simply send again. Say so instead of staying silent, and never answer LINE with 500.
        if event_id:
            state.release_event(event_id)
        log.error("event from %s failed in the conversation (%s); asked the customer to send again",
                  mask_user(incoming.user_id), _fault(sys.exc_info()[1]))
        deliver(incoming.user_id, reply_token, render([TextReply(messages.BUSY_RETRY)]))
        return
    except BaseException:
        if event_id:
            state.release_event(event_id)
        raise
    if event_id:
        state.finish_event(event_id)
    login_url = None
    if any(isinstance(r, AccountLinkPrompt) for r in outcome.replies):
        try:
            login_url = link_url(incoming.user_id)
        except Exception:  # noqa: BLE001
            log.warning("could not issue a link token for %s", mask_user(incoming.user_id))
            login_url = f"{current_app.config['PUBLIC_BASE_URL']}/login"
    run_effects(outcome)
    deliver(incoming.user_id, reply_token, render(outcome.replies, login_url))


@bp.post("/callback")
def callback():
    """LINE's webhook."""
    signature = request.headers.get("X-Line-Signature", "")
    body = request.get_data(as_text=True)
    if not signature:
        abort(400, "missing signature")
    parser: WebhookParser = current_app.extensions["line_parser"]
    try:
        events = parser.parse(body, signature)
    except InvalidSignatureError:
        log.warning("webhook with a bad signature refused")
        abort(400, "bad signature")
    except Exception as exc:  # noqa: BLE001 - signed but malformed: the SDK raises ValueError, KeyError,
        # TypeError, pydantic errors, or RecursionError for absurd nesting; all are the sender's fault.
        log.warning("signed webhook body could not be parsed (%s)", exc.__class__.__name__)
        abort(400, "malformed body")
    failed = 0
    for event in events:
        try:
            handle_event(event)
        except (StateUnavailable, SQLAlchemyError) as exc:
            failed += 1
            log.error("event not handled (%s); asking LINE to redeliver", exc.__class__.__name__)
        except Exception as exc:  # noqa: BLE001 - one bad event must not cost the others their answers
            log.error("event failed after it was handled (%s); not redelivered", _fault(exc))
    if failed:
        return "temporarily unavailable", 503
    return "OK"
