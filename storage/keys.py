"""Every Redis key of the service, built here and nowhere else.

Keys are ``bot:<platform>:<user>:<part>`` or ``bot:<area>:<id>…``. The strings are part of the
deployed data (a running Redis holds them): change one and what is stored under the old name is
lost or, worse, read by nobody. ``tests/storage/test_keys.py`` pins every one of them.

A name that stands in for personal data (a login ID, a client address, a mail address, a
customer number) is a keyed hash made by the caller (``handlers.web.common.counter_ident``,
``bot.flows.registration.number_ident``); a LINE user id is kept as it is.

======================================  ====================================================  =======================
key                                     what it holds (who writes it)                         lifetime
======================================  ====================================================  =======================
**conversations** (``storage.state``)
bot:<platform>:<user>:conv              the conversation (JSON)                               idle time + 60 s
bot:<platform>:<user>:flow              the state name only: "a flow was cut short"           24 h
bot:<platform>:<user>:lock              the per-user lock, taken *before* the conversation    30 s
                                        is read (``USER_LOCK_SECONDS``)
bot:recent:<platform>:<user>            the last few texts outside any flow, masked, for a    1 h
                                        staff handoff (a list)
**limits** (``storage.limits``)
bot:count:<name>:<id>                   a sliding-window counter (a sorted set of hits)       its window
bot:block:<name>:<id>                   a refusal in force                                    the refusal
**the LINE event queue** (``storage.events``)
bot:events:<p>                          a stream of events; <p> = crc32(user) mod partitions  until acknowledged
bot:events:<p>:lease                    the consumer that owns partition <p> now              15 s, renewed
bot:events:consumers                    live consumers (a sorted set, scored by heartbeat)    pruned by readers
bot:event:<webhookEventId>              the dedup claim: "queued", then "done"                24 h, then 7 days
bot:events:flood:<user>                 a flooding person was lately told once                the flood window
**outboxes** (``storage.pushes``, ``storage.handoffs``, ``handlers.line.richmenu``)
bot:line:<user>:push                    the pushes waiting for a LINE user, oldest first      7 days after the last
bot:line:<user>:pushing                 the lock of the one job sending them                  120 s
bot:handoff:<id>:drain                  the lock of the one job sending a handoff's outbox    120 s
bot:lock:menu:<user>                    one rich menu switch at a time per LINE user          15 s
**the web** (``handlers.web.sessions``, ``storage.link_attempts``)
bot:web:session:<sha256(sid)>           a My Page session (the cookie holds the sid)          30 idle minutes
bot:link:<sha256(id)>                   a LINE account-link attempt (JSON)                    11 minutes
bot:link:<sha256(id)>:browser           the secret's hash of the one browser that opened it   as the attempt
bot:link:<sha256(id)>:confirm           the account to move the link from, after the password as the attempt
**Slack, jobs** (``handlers.slack.routes``, ``handlers.jobs``)
bot:slack:event:<event_id>              a Slack event already queued (retries ignored)        24 h
bot:job:done:<once>                     a job run with a ``once`` key succeeded               7 days
**monthly notices** (``handlers.line.notices``)
bot:notices:rate                        the global rate limiter's clock (GCRA)                the schedule + 60 s
bot:notices:slow                        the slow-down after a 429                             30 s
bot:notices:active                      the months being sent (a set)                         until a month is done
bot:notices:<YYYY-MM>:stop              why the month's run stopped                           40 days
bot:notices:<YYYY-MM>:budget            the quota left for this run                           40 days
bot:notices:<YYYY-MM>:scheduled         the schedule started the month's run                  40 days
bot:notices:<YYYY-MM>:dispatch          one dispatcher at a time                              60 s
**the emulator** (``EMULATOR=1`` only: ``handlers.emulator``)
bot:emu:seq, bot:emu:log                the page's timeline (a counter, a sorted set)         24 h after the last entry
bot:emu:<part>:<sha256(id)[:32]>        the fake LINE's memory: reply, reply-used, retry,     1 h or 24 h
                                        profile, link, link-used
bot:emu:richmenus, …:richmenu-images,   the fake LINE's rich menus (hashes) and its default   until cleared
…:richmenu-users, …:richmenu-default
bot:dev:mailbox                         the development mailbox (mail while SMTP_URL unset)   7 days
======================================  ====================================================  =======================

RQ keeps its own keys (``rq:…``); nothing here touches them.
"""

from __future__ import annotations

import hashlib
from datetime import date


# -- conversations (storage.state) ------------------------------------------------------------
def conversation_key(platform: str, user_id: str) -> str:
    return f"bot:{platform}:{user_id}:conv"


def flow_marker_key(platform: str, user_id: str) -> str:
    return f"bot:{platform}:{user_id}:flow"


def lock_key(platform: str, user_id: str) -> str:
    return f"bot:{platform}:{user_id}:lock"


def recent_key(platform: str, user_id: str) -> str:
    return f"bot:recent:{platform}:{user_id}"


# -- limits (storage.limits) ------------------------------------------------------------------
def counter_key(name: str, ident: str) -> str:
    return f"bot:count:{name}:{ident}"


def block_key(name: str, ident: str) -> str:
    return f"bot:block:{name}:{ident}"


# -- the LINE event queue (storage.events) ----------------------------------------------------
CONSUMERS_KEY = "bot:events:consumers"


def stream_key(partition: int) -> str:
    return f"bot:events:{partition}"


def lease_key(partition: int) -> str:
    return f"bot:events:{partition}:lease"


def event_key(event_id: str) -> str:
    return f"bot:event:{event_id}"


def flood_key(user_id: str) -> str:
    return f"bot:events:flood:{user_id}"


# -- outboxes -----------------------------------------------------------------------------------
def pushes_key(user_id: str) -> str:
    return f"bot:line:{user_id}:push"


def pushes_drain_key(user_id: str) -> str:
    return f"bot:line:{user_id}:pushing"


def handoff_drain_key(handoff_id: int) -> str:
    return f"bot:handoff:{handoff_id}:drain"


def menu_lock_key(user_id: str) -> str:
    return f"bot:lock:menu:{user_id}"


# -- the web ------------------------------------------------------------------------------------
def web_session_key(sid_hash: str) -> str:
    """A web session, keyed by the SHA-256 of its cookie value (a leaked key list opens nothing)."""
    return f"bot:web:session:{sid_hash}"


def link_key(ref: str, part: str = "") -> str:
    """An account-link attempt (``ref``: the SHA-256 of its id), or its ``browser``/``confirm`` part."""
    return f"bot:link:{ref}" + (f":{part}" if part else "")


# -- Slack, jobs --------------------------------------------------------------------------------
def slack_event_key(event_id: str) -> str:
    return f"bot:slack:event:{event_id}"


def job_done_key(once: str) -> str:
    return f"bot:job:done:{once}"


# -- monthly notices (handlers.line.notices) ----------------------------------------------------
NOTICES_ACTIVE_KEY = "bot:notices:active"
NOTICES_RATE_KEY = "bot:notices:rate"
NOTICES_SLOW_KEY = "bot:notices:slow"


def notices_month_key(month: date, part: str) -> str:
    """One month's run: ``stop``, ``budget``, ``scheduled`` or ``dispatch``."""
    return f"bot:notices:{month:%Y-%m}:{part}"


# -- the emulator (handlers.emulator) -----------------------------------------------------------
EMULATOR_SEQ_KEY = "bot:emu:seq"
EMULATOR_LOG_KEY = "bot:emu:log"
EMULATOR_RICHMENUS_KEY = "bot:emu:richmenus"
EMULATOR_RICHMENU_IMAGES_KEY = "bot:emu:richmenu-images"
EMULATOR_RICHMENU_USERS_KEY = "bot:emu:richmenu-users"
EMULATOR_RICHMENU_DEFAULT_KEY = "bot:emu:richmenu-default"
DEV_MAILBOX_KEY = "bot:dev:mailbox"


def emulator_key(part: str, ident: str) -> str:
    """What the fake LINE remembers about a token, retry key or user (the id hashed: tokens stay out
    of key names)."""
    return f"bot:emu:{part}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"
