"""The development mailbox: where mail goes while ``SMTP_URL`` is unset, shown by the emulator.

Only the emulator (``EMULATOR=1``, ``make run``) has one: ``init_app`` puts its writer in
``app.extensions["dev_mailbox"]``, a callable taking one mail (``to``, ``subject``, ``body``,
``date``), which ``handlers.mail`` calls when there is no SMTP server, so the mail code needs no
import of this edge. The page reads it back with ``mails`` (``GET /emulator/api/mailbox``).
Redis list ``bot:dev:mailbox`` (``storage.keys``), newest first, the last 200 for a week.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import redis
from flask import Flask

from storage.keys import DEV_MAILBOX_KEY

MAILBOX_SIZE = 200
MAILBOX_SECONDS = 7 * 24 * 3600  # a development mailbox, not an archive


def add(client: redis.Redis, mail: dict[str, Any]) -> None:
    """Keep a mail in the development mailbox (newest first)."""
    pipe = client.pipeline()
    pipe.lpush(DEV_MAILBOX_KEY, json.dumps(mail, ensure_ascii=False))
    pipe.ltrim(DEV_MAILBOX_KEY, 0, MAILBOX_SIZE - 1)
    pipe.expire(DEV_MAILBOX_KEY, MAILBOX_SECONDS)
    pipe.execute()


def mails(client: redis.Redis) -> list[dict[str, Any]]:
    """The development mailbox, newest first."""
    return [json.loads(raw) for raw in client.lrange(DEV_MAILBOX_KEY, 0, MAILBOX_SIZE - 1)]


def init_app(app: Flask) -> None:
    """Offer the mailbox's writer to the mail code (``app.extensions["dev_mailbox"]``)."""
    app.extensions["dev_mailbox"] = functools.partial(add, app.extensions["redis"])
