"""LINE account-link attempts: the chat's 「ログインして連携」, bound to the one browser that opens it.

LINE's link token alone would let anyone who got hold of the login URL finish a link for the
LINE user who asked for it. So the chat's button carries only a random id of ours
(``/link/start?t=<id>``, 256 bits); the link token, the LINE user and the name to show stay
here, in Redis (keys built in ``storage.keys``), and never appear in a URL of ours::

    bot:link:<sha256(id)>          the attempt (JSON): link token, LINE user id, name, until
    bot:link:<sha256(id)>:browser  sha256 of the secret of the one browser that opened it
    bot:link:<sha256(id)>:confirm  after the password, when the link would move from another
                                   LINE user: the account id and its session version (JSON)

The first browser to open the start URL binds the attempt (``SET NX``) and gets its secret
in a cookie; no other browser can use the attempt after that, even with the URL. ``spend``
takes the attempt away in one MULTI/EXEC (GET + DEL), so only one request ever completes
it. An attempt lives 10 minutes, as LINE's link token does: ``until`` is checked against the
caller's clock, and the keys expire a minute later in any case.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

import redis

from storage.keys import link_key
from storage.redis_client import translated

ATTEMPT_SECONDS = 10 * 60  # LINE's link token is "valid for 10 minutes and can only be used once"
_KEY_GRACE_SECONDS = 60  # the keys outlive ``until`` a little; ``until`` is what counts
_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
NAME_MAX = 40  # a LINE display name is at most 20 characters; more is cut


@dataclass(frozen=True)
class Attempt:
    """One 「ログインして連携」: what LINE gave us for it, and (after the password) the account to move."""

    ref: str  # sha256 of the id: names the keys; the login form carries it (it opens nothing)
    link_token: str
    user_id: str
    name: str  # the LINE display name, or "" when LINE did not say
    until: float
    account_id: int | None = None
    version: int | None = None


def _new_id() -> str:
    return secrets.token_urlsafe(32)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def well_formed(value: str | None) -> bool:
    """An id or a browser secret as we issue them (anything else is not looked up)."""
    return bool(value) and _ID_RE.fullmatch(value) is not None


@translated
def create(client: redis.Redis, link_token: str, user_id: str, name: str | None, now: float) -> str:
    """Keep a new attempt for ``user_id`` and return its id (for the start URL)."""
    attempt_id = _new_id()
    record = {"link_token": link_token, "user_id": user_id, "name": (name or "")[:NAME_MAX],
              "until": now + ATTEMPT_SECONDS}
    client.set(link_key(_digest(attempt_id)), json.dumps(record, ensure_ascii=False),
               ex=ATTEMPT_SECONDS + _KEY_GRACE_SECONDS)
    return attempt_id


def _attempt(ref: str, raw: bytes | str | None, confirm: bytes | str | None, now: float) -> Attempt | None:
    if not raw:
        return None
    record = json.loads(_text(raw))
    if record["until"] <= now:
        return None
    moving = json.loads(_text(confirm)) if confirm else {}
    return Attempt(ref, record["link_token"], record["user_id"], record.get("name", ""), record["until"],
                   moving.get("account_id"), moving.get("version"))


@translated
def find(client: redis.Redis, attempt_id: str, now: float) -> Attempt | None:
    """The live attempt with this id (bound or not), or None: unknown, spent or expired."""
    if not well_formed(attempt_id):
        return None
    ref = _digest(attempt_id)
    return _attempt(ref, client.get(link_key(ref)), None, now)


@translated
def bind(client: redis.Redis, attempt: Attempt) -> str | None:
    """Bind the attempt to the browser opening it: a new browser secret, or None when another
    browser opened it first (that one keeps it)."""
    secret = _new_id()
    ttl = client.pttl(link_key(attempt.ref))
    if ttl is None or ttl <= 0:
        return None
    if not client.set(link_key(attempt.ref, "browser"), _digest(secret), nx=True, px=ttl):
        return None
    return secret


@translated
def bound(client: redis.Redis, attempt_id: str, secret: str, now: float) -> Attempt | None:
    """The live attempt when ``secret`` is the secret of the browser it is bound to, else None."""
    if not (well_formed(attempt_id) and well_formed(secret)):
        return None
    ref = _digest(attempt_id)
    raw, browser, confirm = client.mget([link_key(ref), link_key(ref, "browser"), link_key(ref, "confirm")])
    if not browser or not secrets.compare_digest(_text(browser), _digest(secret)):
        return None
    return _attempt(ref, raw, confirm, now)


@translated
def ask_to_move(client: redis.Redis, attempt: Attempt, account_id: int, version: int) -> bool:
    """Remember, for the confirm step, the account whose link would move (False: the attempt is gone)."""
    ttl = client.pttl(link_key(attempt.ref))
    if ttl is None or ttl <= 0:
        return False
    client.set(link_key(attempt.ref, "confirm"), json.dumps({"account_id": account_id, "version": version}), px=ttl)
    return True


@translated
def spend(client: redis.Redis, attempt_id: str, secret: str, now: float) -> Attempt | None:
    """Take the attempt away for good (the link goes ahead, or the customer cancelled it): the
    attempt when this browser holds it and no other request spent it first, else None."""
    held = bound(client, attempt_id, secret, now)
    if held is None:
        return None
    keys = [link_key(held.ref), link_key(held.ref, "browser"), link_key(held.ref, "confirm")]
    pipe = client.pipeline(transaction=True)
    pipe.get(keys[0])
    pipe.get(keys[2])
    pipe.delete(*keys)
    raw, confirm, _deleted = pipe.execute()
    return _attempt(held.ref, raw, confirm, now)  # None: a parallel request spent it first
