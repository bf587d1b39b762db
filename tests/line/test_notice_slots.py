"""A notice batch takes its slots under the global rate limit in one round trip to Redis (issue 22,
point 7): the stop flag, the quota budget, the slow-down after a 429 and the slots themselves, one
batch's window after another's; and its pushes keep their connections alive."""

from __future__ import annotations

import time
from datetime import datetime

from handlers.line.notices import batch, push, rate, run
from storage import keys
from storage import notices as store
from tests.line.test_notices import MONTH, TOKYO, delivered_once, pushes, seed_linked


def test_a_batch_asks_the_rate_limiter_once_and_pushes_every_row_once(app, make_app, line_api, monkeypatch):
    bot = make_app(NOTICE_BATCH_SIZE=12, NOTICE_CONCURRENCY=12, NOTICE_RATE_PER_SECOND=50)
    users = seed_linked(bot, 12)
    redis = bot.extensions["redis"]
    calls: list[tuple] = []
    original = redis.eval

    def counting_eval(script, *args):
        calls.append((script, args))
        return original(script, *args)

    with bot.app_context():
        run.start_run(MONTH)
        with bot.extensions["db"].begin() as session:
            token, claimed, _last = store.claim_batch(session, MONTH, datetime.now(TOKYO), 12, 60)
        assert claimed == 12
        monkeypatch.setattr(redis, "eval", counting_eval)
        batch.send_batch_job(token)

    assert delivered_once(line_api, users)
    assert len({c.retry_key for c in pushes(line_api)}) == 12  # one X-Line-Retry-Key per row
    reservations = [args for script, args in calls if script == rate._RESERVE_SCRIPT]
    refunds = [args for script, args in calls if script == rate._REFUND_SCRIPT]
    # Twelve rows, twelve threads: their slots and quota in one round trip, not four a push as
    # before. One more (and a refund) only if this machine stalled the batch past its slots.
    assert len(reservations) == 1 + len(refunds) and len(reservations) < 12


def test_windows_follow_each_other_at_the_rate(app):
    with app.app_context():
        before = time.monotonic()
        first = rate.reserve_slots(MONTH, 100, 1000.0)
        second = rate.reserve_slots(MONTH, 50, 1000.0)
        elapsed = time.monotonic() - before
    assert (first.count, second.count) == (100, 50) and not first.stopped
    assert abs(first.interval - 0.001) < 1e-9
    assert first.delay < 0.01  # nothing reserved before: now
    assert second.delay >= first.delay + 100 * 0.001 - elapsed - 0.002  # after the first window's 100 slots


def test_the_budget_grants_what_is_left_and_a_refund_comes_back(app):
    redis = app.extensions["redis"]
    budget = f"bot:notices:{MONTH:%Y-%m}:budget"
    redis.set(budget, 30)
    with app.app_context():
        assert rate.reserve_slots(MONTH, 100, 200.0).count == 30
        assert int(redis.get(budget)) == 0
        assert rate.reserve_slots(MONTH, 5, 200.0).count == 0
        rate.refund(MONTH, 4)  # refused by LINE, or never pushed
        assert rate.reserve_slots(MONTH, 5, 200.0).count == 4
        redis.delete(budget)
        rate.refund(MONTH, 4)  # no budget (no monthly limit): nothing to give back to
        assert redis.get(budget) is None
        assert rate.reserve_slots(MONTH, 5, 200.0).count == 5


def test_a_stopped_month_gets_no_slots_and_a_429_halves_the_rate(app):
    redis = app.extensions["redis"]
    with app.app_context():
        redis.set(keys.NOTICES_SLOW_KEY, "0.5")
        assert abs(rate.reserve_slots(MONTH, 1, 100.0).interval - 0.02) < 1e-9
        redis.set(f"bot:notices:{MONTH:%Y-%m}:stop", "quota")
        stopped = rate.reserve_slots(MONTH, 10, 100.0)
    assert stopped.stopped and stopped.count == 0


def test_the_push_pool_keeps_a_connection_for_every_push_in_flight(make_app):
    """The SDK's pool keeps 10 connections: a batch with more pushes in flight would open a new
    connection for each of the others and throw it away after one push."""
    bot = make_app(NOTICE_CONCURRENCY=48)
    client = push.push_client(bot)
    assert client.pool.pool.maxsize == 48
    assert client.target == "/v2/bot/message/push"
    assert client.headers["Authorization"].startswith("Bearer ")


def test_a_batch_that_fell_behind_takes_new_slots_without_paying_twice(app, make_app, line_api, monkeypatch):
    """A batch stalled past its slots (a busy machine) must not push all its late rows at once
    beside the batches that keep to theirs: it gives the slots back and takes new ones, and each
    notice takes one unit of the quota budget, however often its slot was taken."""
    bot = make_app(NOTICE_CONCURRENCY=3, NOTICE_RATE_PER_SECOND=100, NOTICE_BATCH_SIZE=3)
    users = seed_linked(bot, 3)
    redis = bot.extensions["redis"]
    budget = f"bot:notices:{MONTH:%Y-%m}:budget"
    taken: list[rate.Slots] = []
    reserve = rate.reserve_slots

    def stalled_once(month, wanted, per_second):
        slots = reserve(month, wanted, per_second)
        if not taken:  # the first slots, as a worker that froze for a second after taking them sees them
            slots = rate.Slots(slots.count, slots.delay - 1.0, slots.interval)
        taken.append(slots)
        return slots

    with bot.app_context():
        run.start_run(MONTH)
        redis.set(budget, 50)
        with bot.extensions["db"].begin() as session:
            token, claimed, _last = store.claim_batch(session, MONTH, datetime.now(TOKYO), 3, 60)
        monkeypatch.setattr(rate, "reserve_slots", stalled_once)
        batch.send_batch_job(token)

    assert delivered_once(line_api, users)
    # Late for all three: new slots for all three (a loaded machine may make some late again, and
    # take newer ones still: what is held fixed is the budget below).
    assert [s.count for s in taken][:2] == [3, 3] and sum(s.count for s in taken[2:]) <= 3
    assert int(redis.get(budget)) == 47  # three notices, three units
