"""The engine's guarantees: per-user lock before state, idle expiry, commit-then-save."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from bot import messages
from bot.engine import BotSettings, Engine, Entry, Flow, StateSpec, Turn, words
from bot.types import EventKind, Incoming
from storage.keys import conversation_key, flow_marker_key, lock_key
from storage.models import Customer
from storage.redis_client import StateUnavailable
from storage.state import Conversation, StateStore

COUNT = "test:count"


def _counting_flow(log: list, delay: float = 0.0) -> Flow:
    """A tiny flow: `数える` starts it; every later text adds one and says the count."""

    def start(turn: Turn, _match) -> str:
        turn.data["n"] = 0
        turn.say("start")
        return COUNT

    def step(turn: Turn) -> str:
        log.append(("enter", turn.data["n"], time.monotonic()))
        time.sleep(delay)
        turn.data["n"] += 1
        turn.say(f"n={turn.data['n']}")
        log.append(("exit", turn.data["n"], time.monotonic()))
        return COUNT

    return Flow("count", entries=(Entry(words("数える"), start),),
                states={COUNT: StateSpec(step, lambda turn: turn.say("again"))})


def _engine(app, flow: Flow, client: redis_lib.Redis | None = None) -> Engine:
    store = StateStore(client or app.extensions["redis"], "line")
    return Engine([flow], store, app.extensions["db"].sessions, BotSettings(), lambda turn: turn.say("menu"))


def _text(user: str, text: str) -> Incoming:
    return Incoming(user, EventKind.TEXT, text=text)


def test_two_processes_handle_one_user_one_after_the_other(app, redis_url):
    """Separate Redis connections stand for separate worker processes: the lock is in Redis."""
    log: list = []
    flow = _counting_flow(log, delay=0.2)
    first = _engine(app, flow, redis_lib.Redis.from_url(redis_url))
    second = _engine(app, flow, redis_lib.Redis.from_url(redis_url))
    first.handle(_text("U1", "数える"))
    threads = [threading.Thread(target=e.handle, args=(_text("U1", "x"),)) for e in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    enters = [entry for entry in log if entry[0] == "enter"]
    exits = [entry for entry in log if entry[0] == "exit"]
    # The second step started after the first finished, and saw its saved count.
    assert [e[1] for e in enters] == [0, 1]
    assert enters[1][2] >= exits[0][2]
    assert StateStore(app.extensions["redis"]).load("U1").data == {"n": 2}


def test_different_users_are_not_serialised(app):
    log: list = []
    engine = _engine(app, _counting_flow(log, delay=0.3))
    for user in ("UA", "UB"):
        engine.handle(_text(user, "数える"))
    threads = [threading.Thread(target=engine.handle, args=(_text(u, "x"),)) for u in ("UA", "UB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Both steps were under way at once: the second entered before the first left (a bound in seconds
    # would measure the machine as much as the lock).
    enters = [at for kind, _n, at in log if kind == "enter"]
    exits = [at for kind, _n, at in log if kind == "exit"]
    assert len(enters) == len(exits) == 2
    assert max(enters) < min(exits)


def test_idle_conversation_expires_and_the_customer_is_told(app):
    engine = _engine(app, _counting_flow([]))
    engine.handle(_text("U2", "数える"))
    store = StateStore(app.extensions["redis"])
    stale = store.load("U2")
    store.save("U2", Conversation(stale.state, stale.data, time.time() - 1801))
    outcome = engine.handle(_text("U2", "x"))
    assert outcome.replies[0].text == messages.SESSION_EXPIRED
    assert [r.text for r in outcome.replies[1:]] == ["menu"]
    assert store.load("U2") is None


def test_conversation_within_30_minutes_continues(app):
    engine = _engine(app, _counting_flow([]))
    engine.handle(_text("U3", "数える"))
    store = StateStore(app.extensions["redis"])
    fresh = store.load("U3")
    store.save("U3", Conversation(fresh.state, fresh.data, time.time() - 1700))
    assert engine.handle(_text("U3", "x")).replies[0].text == "n=1"


def test_a_failing_step_rolls_back_and_keeps_the_old_state(app):
    def start(turn: Turn, _match) -> str:
        return "test:boom"

    def boom(turn: Turn) -> str:
        from datetime import UTC, datetime

        turn.db.add(Customer(customer_number="999", phone="0", name_kana="ア", created_at=datetime.now(UTC),
                             updated_at=datetime.now(UTC)))
        turn.db.flush()
        raise RuntimeError("step failed")

    flow = Flow("boom", entries=(Entry(words("爆発"), start),), states={"test:boom": StateSpec(boom, lambda t: None)})
    engine = _engine(app, flow)
    engine.handle(_text("U4", "爆発"))
    with pytest.raises(RuntimeError):
        engine.handle(_text("U4", "x"))
    with app.extensions["db"].begin() as session:
        assert session.scalar(select(Customer).where(Customer.customer_number == "999")) is None
    assert StateStore(app.extensions["redis"]).load("U4").state == "test:boom"


def test_cancel_mid_flow_clears_state(app):
    engine = _engine(app, _counting_flow([]))
    engine.handle(_text("U5", "数える"))
    outcome = engine.handle(_text("U5", "キャンセル"))
    assert outcome.replies[0].text == messages.CANCELLED
    assert StateStore(app.extensions["redis"]).load("U5") is None


def test_sticker_mid_flow_re_asks_and_changes_nothing(app):
    engine = _engine(app, _counting_flow([]))
    engine.handle(_text("U6", "数える"))
    outcome = engine.handle(Incoming("U6", EventKind.STICKER))
    assert [r.text for r in outcome.replies] == [messages.NOT_TEXT_IN_FLOW, "again"]
    assert StateStore(app.extensions["redis"]).load("U6").data == {"n": 0}


def test_lock_busy_too_long_is_state_unavailable(app):
    store = StateStore(app.extensions["redis"])
    with store.locked_conversation("U7"):
        with pytest.raises(StateUnavailable):
            with store.locked_conversation("U7", wait=0.2):
                pass


def test_what_the_customer_typed_expires_with_the_conversation_but_they_are_still_told(app):
    engine = _engine(app, _counting_flow([]))
    engine.handle(_text("U8", "数える"))
    redis = app.extensions["redis"]
    assert 1800 < redis.ttl(conversation_key("line", "U8")) <= 1860
    assert redis.get(flow_marker_key("line", "U8")) == COUNT.encode()
    redis.delete(conversation_key("line", "U8"))  # what Redis does after 31 idle minutes
    outcome = engine.handle(_text("U8", "x"))
    assert outcome.replies[0].text == messages.SESSION_EXPIRED
    assert redis.exists(conversation_key("line", "U8"), flow_marker_key("line", "U8")) == 0


def test_state_save_failing_after_the_commit_keeps_the_turn(app, redis_url):
    """The database committed; Redis then refuses the write. The replies and effects still come
    out (a redelivery must not run the step twice, and the promised mail must not be lost)."""
    from datetime import UTC, datetime

    from bot.types import SendMail
    from tests.helpers_registration import drop_redis_login, limited_redis_login

    def start(turn: Turn, _match) -> str:
        turn.db.add(Customer(customer_number="998", phone="0", name_kana="ア", created_at=datetime.now(UTC),
                             updated_at=datetime.now(UTC)))
        turn.effect(SendMail("taro@example.jp", "件名", "本文"))
        turn.say("受け付けました")
        return "test:next"

    flow = Flow("commit", entries=(Entry(words("受付"), start),),
                states={"test:next": StateSpec(start, lambda t: None)})
    # A real Redis login that may read the conversation and hold the lock, but not write state.
    name, url = limited_redis_login(redis_url, "%R~bot:*", "~bot:line:U9:lock")
    try:
        client = redis_lib.Redis.from_url(url)
        outcome = _engine(app, flow, client).handle(_text("U9", "受付"))
        client.close()
    finally:
        drop_redis_login(redis_url, name)
    assert [r.text for r in outcome.replies] == ["受け付けました"]
    assert outcome.effects == [SendMail("taro@example.jp", "件名", "本文")]
    with app.extensions["db"].begin() as session:
        assert session.scalar(select(Customer).where(Customer.customer_number == "998")) is not None
    assert not app.extensions["redis"].exists("bot:line:U9:lock")  # the lock was released


def test_a_step_that_outlived_its_lock_does_not_overwrite_the_newer_state(app):
    """A step blocked past the lock's 30 s (here: the lock taken over meanwhile) must not
    overwrite what the newer holder saved."""
    redis = app.extensions["redis"]

    def start(turn: Turn, _match) -> str:
        return "test:slow"

    def slow(turn: Turn) -> str:
        # What happens while a step is stuck: the lock expires and another process takes it
        # and saves its own state.
        redis.set(lock_key("line", "U9"), "someone-else")
        StateStore(redis).save("U9", Conversation("test:newer", {"by": "other"}, time.time()))
        return "test:slow"

    flow = Flow("slow", entries=(Entry(words("遅い"), start),),
                states={"test:slow": StateSpec(slow, lambda t: None)})
    engine = _engine(app, flow)
    engine.handle(_text("U9", "遅い"))
    engine.handle(_text("U9", "x"))
    assert StateStore(redis).load("U9").state == "test:newer"
    assert redis.get(lock_key("line", "U9")) == b"someone-else"  # and not released by the old holder
