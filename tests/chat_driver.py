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

import uuid

from flask import Flask

from handlers import jobs
from handlers.emulator import line_schema
from handlers.line.render import render
from handlers.line.webhook import translate
from tests.line_driver import LineEvents

LINK_URL = "http://localhost/link/start?t=chat-driver"  # the chat's 「ログインして連携」 button, unissued


class ChatUser(LineEvents):
    """One customer talking to the engine directly; the same verbs as ``LineUser``."""

    def __init__(self, app: Flask, user_id: str | None = None) -> None:
        self.app = app
        self.user_id = user_id or "U" + uuid.uuid4().hex

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
        return messages
