"""Driving the bot as LINE does: signed webhooks from one LINE user (``LineUser``), the queued
events and jobs handled here and now (``drain_events``, ``drain_jobs``), and reading the answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from handlers.emulator.line_api_recorder import LineApiRecorder
from tests import log_guard

CHANNEL_SECRET = "test-channel-secret"
ACCESS_TOKEN = "test-access-token"
BOT_USER_ID = "U0123456789abcdef0123456789abcdef"  # webhook "destination": U + 32 hex, as LINE's spec requires


def drain_events(app) -> int:
    """Handle every queued LINE event now, in this thread (what the event workers do)."""
    from handlers.line.worker import drain_events as drain

    return drain(app)


def drain_jobs(app) -> None:
    """Run every queued background job now (what `flask worker` does), in this process."""
    from handlers.jobs.worker import run_worker

    run_worker(app, burst=True)


# -- LINE webhook driver ----------------------------------------------------------------------
def sign(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class LineEvents:
    """LINE's webhook events from one user, and the verbs that send them: ``send_event`` is the
    driver's own (``LineUser`` posts a signed webhook; ``tests.chat_driver.ChatUser`` hands the
    event to the engine)."""

    user_id: str

    def send_event(self, event: dict) -> list[dict]:
        raise NotImplementedError

    def _issued(self, reply_token: str) -> None:
        """A reply token was given to an event (``LineUser`` tells the fake LINE whose it is)."""

    def _event(self, event_type: str, **extra) -> dict:
        event = {
            "type": event_type,
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24],
            "deliveryContext": {"isRedelivery": False},
        }
        if event_type not in ("unfollow",):
            token = uuid.uuid4().hex
            event["replyToken"] = token
            self._issued(token)
        event.update(extra)
        return event

    def say(self, text: str) -> list[dict]:
        """Send a text message; return the reply messages."""
        return self.send_event(self.text_event(text))

    def text_event(self, text: str) -> dict:
        log_guard.remember_typed(text)
        return self._event("message", message={"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text,
                                               "quoteToken": uuid.uuid4().hex})

    def says(self, text: str) -> str:
        """Send a text; return every text (and Flex altText) replied, joined by newlines."""
        return "\n".join(m.get("text") or m.get("altText", "") for m in self.say(text))

    def sticker(self) -> list[dict]:
        return self.send_event(self._event("message", message={
            "type": "sticker", "id": "1", "packageId": "446", "stickerId": "1988",
            "stickerResourceType": "STATIC", "quoteToken": uuid.uuid4().hex}))

    def follow(self) -> list[dict]:
        return self.send_event(self._event("follow", follow={"isUnblocked": False}))

    def postback(self, data: str) -> list[dict]:
        return self.send_event(self._event("postback", postback={"data": data}))


class LineUser(LineEvents):
    """Sends signed webhooks as one LINE user and reads what the bot answered."""

    def __init__(self, client, api: LineApiRecorder, app, user_id: str | None = None) -> None:
        self.client = client
        self.api = api
        self.app = app
        self.user_id = user_id or "U" + uuid.uuid4().hex

    def _issued(self, reply_token: str) -> None:
        self.api.reply_token_users[reply_token] = self.user_id

    def post(self, events: list[dict], signature: str | None = None, drain: bool = True):
        """POST a signed webhook; unless ``drain`` is False, then handle the queued events
        here and now (as the event workers would), so the answers are in when it returns."""
        body = json.dumps({"destination": BOT_USER_ID, "events": events}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Line-Signature": signature if signature is not None else sign(body)}
        response = self.client.post("/callback", data=body, headers=headers)
        if drain and self.app is not None and response.status_code == 200:
            drain_events(self.app)
        return response

    def send_event(self, event: dict) -> list[dict]:
        """Post one event; return the messages replied or pushed to this user because of it."""
        before = len(self.api.messages(self.user_id))
        response = self.post([event])
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.api.messages(self.user_id)[before:]


def quick_reply_labels(message: dict) -> list[str]:
    return [item["action"]["label"] for item in (message.get("quickReply") or {}).get("items", [])]
