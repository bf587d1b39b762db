"""Every Redis key string, pinned: a running Redis holds data under these names, so a change here
is a data migration, not a refactor (``storage.keys``)."""

from __future__ import annotations

import hashlib
from datetime import date

from storage import keys


def test_the_key_strings_are_the_deployed_ones():
    assert keys.conversation_key("line", "U1") == "bot:line:U1:conv"
    assert keys.flow_marker_key("line", "U1") == "bot:line:U1:flow"
    assert keys.lock_key("line", "U1") == "bot:line:U1:lock"
    assert keys.recent_key("line", "U1") == "bot:recent:line:U1"
    assert keys.counter_key("web_login_id", "ab12") == "bot:count:web_login_id:ab12"
    assert keys.block_key("register_mismatch_user", "U1") == "bot:block:register_mismatch_user:U1"
    assert keys.CONSUMERS_KEY == "bot:events:consumers"
    assert keys.stream_key(3) == "bot:events:3"
    assert keys.lease_key(3) == "bot:events:3:lease"
    assert keys.event_key("01HX") == "bot:event:01HX"
    assert keys.flood_key("U1") == "bot:events:flood:U1"
    assert keys.pushes_key("U1") == "bot:line:U1:push"
    assert keys.pushes_drain_key("U1") == "bot:line:U1:pushing"
    assert keys.handoff_drain_key(7) == "bot:handoff:7:drain"
    assert keys.menu_lock_key("U1") == "bot:lock:menu:U1"
    assert keys.web_session_key("f00d") == "bot:web:session:f00d"
    assert keys.link_key("beef") == "bot:link:beef"
    assert keys.link_key("beef", "browser") == "bot:link:beef:browser"
    assert keys.link_key("beef", "confirm") == "bot:link:beef:confirm"
    assert keys.slack_event_key("Ev1") == "bot:slack:event:Ev1"
    assert keys.job_done_key("E1:mail") == "bot:job:done:E1:mail"
    assert keys.NOTICES_ACTIVE_KEY == "bot:notices:active"
    assert keys.NOTICES_RATE_KEY == "bot:notices:rate"
    assert keys.NOTICES_SLOW_KEY == "bot:notices:slow"
    assert keys.notices_month_key(date(2026, 4, 1), "budget") == "bot:notices:2026-04:budget"
    assert keys.EMULATOR_SEQ_KEY == "bot:emu:seq"
    assert keys.EMULATOR_LOG_KEY == "bot:emu:log"
    assert keys.EMULATOR_RICHMENUS_KEY == "bot:emu:richmenus"
    assert keys.EMULATOR_RICHMENU_IMAGES_KEY == "bot:emu:richmenu-images"
    assert keys.EMULATOR_RICHMENU_USERS_KEY == "bot:emu:richmenu-users"
    assert keys.EMULATOR_RICHMENU_DEFAULT_KEY == "bot:emu:richmenu-default"
    assert keys.emulator_key("reply", "tok") == "bot:emu:reply:" + hashlib.sha256(b"tok").hexdigest()[:32]
    assert keys.DEV_MAILBOX_KEY == "bot:dev:mailbox"


def test_every_key_family_is_in_the_documented_table():
    """The module's table names each family a builder or constant makes."""
    table = keys.__doc__
    for family in ("bot:<platform>:<user>:conv", "bot:recent:", "bot:count:", "bot:block:", "bot:events:<p>",
                   "bot:events:<p>:lease", "bot:events:consumers", "bot:event:", "bot:events:flood:",
                   "bot:line:<user>:push", "bot:line:<user>:pushing", "bot:handoff:", "bot:lock:menu:",
                   "bot:web:session:", "bot:link:", "bot:slack:event:", "bot:job:done:", "bot:notices:rate",
                   "bot:notices:slow", "bot:notices:active", "bot:notices:<YYYY-MM>:", "bot:emu:seq",
                   "bot:emu:<part>:", "bot:emu:richmenus", "bot:dev:mailbox"):
        assert family in table, family
