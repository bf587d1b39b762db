"""Driving the conversation without LINE: ``ChatUser`` hands each event to ``Engine.handle``
(the real Redis store, the real database), with no HTTP, webhook, queue or fake LINE.

The conversation tests (``tests/bot``, ``tests/understanding/test_chat.py``) talk through it.
It speaks LINE's event shapes (``webhook.translate`` turns them into the engine's ``Incoming``)
and answers with the messages LINE would be sent (``render``), each checked against LINE's
own schema as the fake LINE would, so a reply LINE would refuse still fails the test. Effects
are queued as jobs as the LINE worker queues them (``drain_jobs`` runs them). What only the
LINE path does (reply tokens, pushes, redelivery, the outbox) is tested end to end through
``tests.line_driver.LineUser``.
"""

from __future__ import annotations

import itertools
import time
import uuid

from flask import Flask

from handlers import jobs
from handlers.emulator import line_schema
from handlers.line.render import render
from handlers.line.webhook import translate
from tests import log_guard

LINK_URL = "http://localhost/link/start?t=chat-driver"  # the chat's 「ログインして連携」 button, unissued
_ids = itertools.count(1)


class ChatUser:
    """One customer talking to the engine directly; the same verbs as ``LineUser``."""

    def __init__(self, app: Flask, user_id: str | None = None) -> None:
        self.app = app
        self.user_id = user_id or "U" + uuid.uuid4().hex
        self.sent: list[dict] = []  # every message the bot answered, in order

    def _event(self, event_type: str, **extra) -> dict:
        event = {"type": event_type, "mode": "active", "timestamp": int(time.time() * 1000),
                 "source": {"type": "user", "userId": self.user_id},
                 "webhookEventId": f"chat-{next(_ids)}", "deliveryContext": {"isRedelivery": False}}
        if event_type != "unfollow":
            event["replyToken"] = uuid.uuid4().hex
        event.update(extra)
        return event

    def send_event(self, event: dict) -> list[dict]:
        """Hand one event to the engine; return the messages it answered, as LINE would get them."""
        queued = translate(event)
        assert queued is not None, f"the bot takes no part in {event.get('type')!r} events"
        with self.app.app_context():
            outcome = self.app.extensions["engine"].handle(queued.incoming())
            for i, effect in enumerate(outcome.effects):
                jobs.perform(effect, once=f"{queued.id}:{i}")
        messages = render(outcome.replies, LINK_URL)
        for message in messages:  # what LINE would refuse fails here, as at the fake LINE
            errors = line_schema.validate("PushMessageRequest", {"to": self.user_id, "messages": [message]})
            assert not errors, errors
        self.sent += messages
        return messages

    def say(self, text: str) -> list[dict]:
        """Send a text message; return the answer."""
        return self.send_event(self.text_event(text))

    def says(self, text: str) -> str:
        """Send a text; return every text (and Flex altText) answered, joined by newlines."""
        return "\n".join(m.get("text") or m.get("altText", "") for m in self.say(text))

    def text_event(self, text: str) -> dict:
        log_guard.remember_typed(text)
        return self._event("message", message={"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text,
                                               "quoteToken": uuid.uuid4().hex})

    def sticker(self) -> list[dict]:
        return self.send_event(self._event("message", message={
            "type": "sticker", "id": "1", "packageId": "446", "stickerId": "1988",
            "stickerResourceType": "STATIC", "quoteToken": uuid.uuid4().hex}))

    def follow(self) -> list[dict]:
        return self.send_event(self._event("follow", follow={"isUnblocked": False}))

    def postback(self, data: str) -> list[dict]:
        return self.send_event(self._event("postback", postback={"data": data}))
