"""POST /callback: verify the signature, dedup, translate to ``Incoming``, run the engine, reply.

Nothing slow runs inside the request: mail and later pushes are queued as jobs. A reply
that LINE refuses (expired token, redelivery) or that fails on the wire is queued as a
push with a retry key, so the customer still gets it exactly once.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
import uuid
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Flask, abort, current_app, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
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
from bot.engine import BotSettings, Engine
from bot.flows import all_flows
from bot.flows.menu import show_menu
from bot.types import AccountLinkPrompt, EventKind, Incoming, Outcome, SendMail, TextReply
from handlers import jobs
from handlers.line_render import MAX_MESSAGES, render
from storage.state import StateUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__)

REQUEST_TIMEOUT = (2, 5)  # connect, read (seconds)
LOADING_AFTER_SECONDS = 0.5  # show the loading animation only when a reply takes noticeable time
LOADING_SETTLE_SECONDS = 1.0  # how long a reply waits for an animation request already under way


def mask_user(user_id: str) -> str:
    """LINE user IDs in logs: enough to correlate, not the whole identifier."""
    return f"{user_id[:5]}…{user_id[-4:]}" if len(user_id) > 10 else "…"


def messaging_api() -> MessagingApi:
    """The app's Messaging API client: one per process, so connections to LINE are reused
    (a new client per call would pay a TCP and TLS handshake for every reply)."""
    return current_app.extensions["line_messaging_api"]


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


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["engine"]


def _start_loading(user_id: str) -> None:
    try:
        messaging_api().show_loading_animation(ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=5),
                                               _request_timeout=REQUEST_TIMEOUT)
    except Exception:  # noqa: BLE001 - cosmetic; never fail a reply over it
        log.info("loading animation not shown")


def _handle_with_loading(incoming: Incoming) -> Outcome:
    """Run the engine; if it takes noticeable time, show LINE's loading animation meanwhile."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def show() -> None:
        with app.app_context():
            _start_loading(incoming.user_id)

    timer = threading.Timer(app.config.get("LOADING_AFTER_SECONDS", LOADING_AFTER_SECONDS), show)
    timer.daemon = True
    if incoming.kind in (EventKind.TEXT, EventKind.POSTBACK):
        timer.start()
    try:
        return engine().handle(incoming)
    finally:
        timer.cancel()
        if timer.is_alive():
            # The animation request may be on its way to LINE. Let it land first: one that lands
            # after the reply spins under the answer for its full 5 seconds.
            timer.join(LOADING_SETTLE_SECONDS)


def _link_url(user_id: str) -> str | None:
    """Issue a LINE link token and build the web login URL that carries it."""
    token = messaging_api().issue_link_token(user_id, _request_timeout=REQUEST_TIMEOUT).link_token
    return f"{current_app.config['PUBLIC_BASE_URL']}/login?linkToken={quote(token)}"


def deliver(user_id: str, reply_token: str | None, messages: list[dict]) -> None:
    """Reply (first 5 messages) or, failing that, queue pushes; the rest go as pushes."""
    if not messages:
        return
    first, rest = messages[:MAX_MESSAGES], messages[MAX_MESSAGES:]
    replied = False
    if reply_token:
        try:
            messaging_api().reply_message(
                ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": first}),
                _request_timeout=REQUEST_TIMEOUT)
            replied = True
        except ApiException as exc:
            log.warning("reply refused by LINE (status %s) for %s; pushing instead", exc.status, mask_user(user_id))
        except Exception as exc:  # noqa: BLE001 - network trouble: fall back to a retried push
            log.warning("reply failed (%s) for %s; pushing instead", exc.__class__.__name__, mask_user(user_id))
    queue_pushes(user_id, rest if replied else messages)


def push_now(user_id: str, messages: list[dict], retry_key: str) -> None:
    """Push messages right now (used by jobs); raises so the job is retried.

    LINE answers 409 to a retry key it has already accepted: that push was delivered.
    """
    try:
        messaging_api().push_message(PushMessageRequest.from_dict({"to": user_id, "messages": messages}),
                                     x_line_retry_key=retry_key, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status == 409:
            return
        if exc.status == 400:
            log.error("LINE refused a push as invalid (400); not retrying")
            return
        raise


def push_outcome(user_id: str, replies) -> None:
    """Queue a push of reply values (used by the web pages after 本登録, notices, staff)."""
    messages = render(list(replies))
    queue_pushes(user_id, messages)


def queue_pushes(user_id: str, messages: list[dict]) -> None:
    """Queue LINE messages as pushes of at most 5, each with its own retry key."""
    for i in range(0, len(messages), MAX_MESSAGES):
        jobs.enqueue("push", user_id=user_id, messages=messages[i:i + MAX_MESSAGES], retry_key=str(uuid.uuid4()))


def run_effects(outcome: Outcome) -> None:
    """Queue the slow work the conversation asked for."""
    for effect in outcome.effects:
        if isinstance(effect, SendMail):
            jobs.enqueue("send_mail", to=effect.to, subject=effect.subject, body=effect.body)


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
        outcome = _handle_with_loading(incoming)
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
    link_url = None
    if any(isinstance(r, AccountLinkPrompt) for r in outcome.replies):
        try:
            link_url = _link_url(incoming.user_id)
        except Exception:  # noqa: BLE001
            log.warning("could not issue a link token for %s", mask_user(incoming.user_id))
            link_url = f"{current_app.config['PUBLIC_BASE_URL']}/login"
    run_effects(outcome)
    deliver(incoming.user_id, reply_token, render(outcome.replies, link_url))


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


def init_app(app: Flask) -> None:
    """Build the parser and the engine, and register the webhook."""
    app.extensions["line_parser"] = WebhookParser(app.config["LINE_CHANNEL_SECRET"])
    client = ApiClient(Configuration(host=app.config["LINE_API_BASE_URL"],
                                     access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"]))
    app.extensions["line_messaging_api"] = MessagingApi(client)
    settings = BotSettings(
        public_base_url=app.config["PUBLIC_BASE_URL"],
        registration_ttl_seconds=app.config["REGISTRATION_LINK_TTL_SECONDS"],
        support_hours=app.config["SUPPORT_HOURS"],
        secret=app.config["SECRET_KEY"],
    )
    app.extensions["engine"] = Engine(all_flows(), app.extensions["state"], app.extensions["db"].sessions,
                                      settings, show_menu, clock=app.config.get("CLOCK"))
    app.register_blueprint(bp)
