"""Helpers shared by the chat registration tests: the stored conversation, an active account, limited Redis logins."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
import redis as redis_lib

from storage.keys import conversation_key
from storage.models import Account, LineLink
from storage.security import hash_password
from tests.helpers_registration import TOKYO


def conversation_of(app, user) -> dict | None:
    raw = app.extensions["redis"].get(conversation_key("line", user.user_id))
    return json.loads(raw) if raw else None


def state_of(app, user) -> str | None:
    conversation = conversation_of(app, user)
    return conversation["state"] if conversation else None


def active_account(app, customer_id: int, login_id: str = "Aicom_Hanako", line_user_id: str | None = None) -> int:
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        account = Account(customer_id=customer_id, login_id=login_id, login_id_key=login_id.lower(),
                          email="hanako@example.jp", nickname="はなこ", password_hash=hash_password("Hanako2026"),
                          status="active", session_version=1, created_at=now, activated_at=now)
        db.add(account)
        db.flush()
        if line_user_id:
            db.add(LineLink(line_user_id=line_user_id, account_id=account.id, notices_enabled=True, linked_at=now))
        return account.id


def limited_redis_url(redis_url: str, *key_rules: str):
    admin = redis_lib.Redis.from_url(redis_url)
    name, password = "aicom_limited_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", name, "on", ">" + password, "+@all", "~bot:line:*", "~bot:event:*",
                          "~bot:events:*", "~rq:*", "~bot:web:*", "~bot:dev:*", *key_rules)
    host_db = redis_url.split("://", 1)[1]
    return name, f"redis://{name}:{password}@{host_db}"


@pytest.fixture
def counters_forbidden_url(redis_url):
    """A Redis login that may use conversations, locks, dedup and jobs, but NOT the counters and blocks.

    Real Redis refuses (NOPERM) whenever the bot touches ``bot:count:*`` or ``bot:block:*``:
    the counters are honestly unreadable while everything else works.
    """
    name, url = limited_redis_url(redis_url)
    yield url
    redis_lib.Redis.from_url(redis_url).execute_command("ACL", "DELUSER", name)


@pytest.fixture
def counters_read_only_url(redis_url):
    """As above, but the counters and blocks may be read (nothing is blocked) and not written."""
    name, url = limited_redis_url(redis_url, "%R~bot:count:*", "%R~bot:block:*")
    yield url
    redis_lib.Redis.from_url(redis_url).execute_command("ACL", "DELUSER", name)
