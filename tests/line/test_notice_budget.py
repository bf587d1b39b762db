"""A run's own quota budget against its rate slots (issue 22, point 3's kind of flake): slots that came
too late are given back and taken anew, and the budget they paid for is still theirs after the run's
share of the quota is spent; LINE's own monthly limit stops everything."""

from __future__ import annotations

import dataclasses

import pytest

from handlers.line.notices import rate
from storage import keys
from tests.line.test_notices import MONTH, notify, pushes, seed_linked


@pytest.fixture
def app_config(app_config):
    return dict(app_config, NOTICE_RETRY_DELAYS="0.05,0.1,0.1", NOTICE_PUSH_TIMEOUT_SECONDS=0.5,
                NOTICE_LEASE_SECONDS=1, NOTICE_WAIT_SECONDS=20, NOTICE_BATCH_SIZE=4, NOTICE_CONCURRENCY=4)


def test_slots_given_back_after_the_budget_ran_out_are_taken_again(app):
    with app.app_context():
        app.extensions["redis"].set(keys.notices_month_key(MONTH, "budget"), 3)
        assert rate.reserve_slots(MONTH, 4, 100.0).count == 3
        rate.stop(MONTH, rate.BUDGET)  # what a batch does when it gets fewer than it asked
        rate.refund(MONTH, 1)  # one slot came too late and was given back

        again = rate.reserve_slots(MONTH, 2, 100.0)
        assert (again.count, again.stopped) == (1, False)  # the slot paid for, and no more
        assert rate.reserve_slots(MONTH, 1, 100.0).count == 0
        assert rate.stop_reason(MONTH) == rate.BUDGET


def test_lines_own_limit_outranks_a_spent_budget_and_stops_everything(app):
    with app.app_context():
        app.extensions["redis"].set(keys.notices_month_key(MONTH, "budget"), 1)
        rate.stop(MONTH, rate.BUDGET)
        rate.stop(MONTH, "quota")  # LINE answered 429 "monthly limit"
        rate.refund(MONTH, 1)  # the refused push used no quota

        assert rate.stop_reason(MONTH) == "quota"
        assert rate.reserve_slots(MONTH, 1, 100.0).stopped
        rate.stop(MONTH, "unauthorized")
        assert rate.stop_reason(MONTH) == "quota"  # the first real reason stays


def test_a_batch_whose_slots_came_late_still_sends_what_the_quota_allows(app, runner, line_api, monkeypatch):
    """The machine stalls right after the first reservation: every slot is late, given back and taken
    anew; the run's share of the quota was spent by that first reservation, yet the rows it paid for
    are sent (before: 0–2 of 3 on a loaded machine)."""
    seed_linked(app, 5)
    line_api.quota, line_api.quota_used = 100, 97
    reserve, calls = rate.reserve_slots, []

    def stalled_first(month, wanted, per_second):
        slots = reserve(month, wanted, per_second)
        calls.append(slots)
        return dataclasses.replace(slots, delay=slots.delay - 1.0) if len(calls) == 1 else slots

    monkeypatch.setattr(rate, "reserve_slots", stalled_first)

    result = notify(runner)

    assert "sent 3" in result.output and "quota is reached; 2 notices left to send" in result.output, result.output
    assert len(pushes(line_api)) == 3
    assert len(calls) >= 2  # the late slots were given back and taken again
