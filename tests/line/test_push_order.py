"""Pushes to one person arrive in the order they were made, whatever LINE does meanwhile.

Every push goes through the person's own list (``storage.pushes``) and one job at a time
sends it: a push LINE fails stops the drain and is retried first, so a staff member's second
reply, or a long answer's sixth message, never overtakes it. Before this each batch was an
RQ job of its own, and RQ retries a failed job later while the next one runs.
"""

from __future__ import annotations

import time

import pytest

from bot.types import TextReply, to_json
from handlers import jobs
from handlers.emulator.line_api_recorder import Failure
from storage import pushes
from storage.keys import pushes_drain_key
from storage.locks import drain_lock
from tests.line.test_faults import _run_scheduled_now
from tests.line_driver import drain_jobs

USER = "U" + "7" * 32


def _push_texts(app, *texts: str) -> None:
    """What a staff reply does: queue the LINE edge's push job with reply values."""
    with app.app_context():
        jobs.enqueue("handlers.line.delivery:push_replies_job", user_id=USER,
                     replies=to_json([TextReply(text) for text in texts]))


def _pushed(line_api) -> list[list[str]]:
    return [[m["text"] for m in call.body["messages"]] for call in line_api.accepted("push", USER)]


def test_a_second_staff_reply_never_goes_ahead_of_a_first_that_line_failed(app, line_api):
    line_api.fail_next.append(Failure(500, kind="push"))
    _push_texts(app, "一つ目のご返信です。")
    _push_texts(app, "二つ目のご返信です。")
    drain_jobs(app)  # the first drain fails on the first reply; the second drain sends it, then the second
    assert _pushed(line_api) == [["一つ目のご返信です。"], ["二つ目のご返信です。"]]
    assert pushes.pending(app.extensions["redis"], USER) == 0
    assert _run_scheduled_now(app) == 1  # the failed drain, retried: nothing left to send
    drain_jobs(app)
    assert len(line_api.accepted("push", USER)) == 2


def test_pushes_wait_behind_one_that_line_keeps_failing(app, line_api):
    line_api.fail_next.extend([Failure(500, kind="push"), Failure(503, kind="push")])
    _push_texts(app, "一つ目のご返信です。")
    _push_texts(app, "二つ目のご返信です。")
    drain_jobs(app)  # both drains meet the first reply first, and fail on it
    assert _pushed(line_api) == []
    assert pushes.pending(app.extensions["redis"], USER) == 2
    assert _run_scheduled_now(app) == 2
    drain_jobs(app)
    assert _pushed(line_api) == [["一つ目のご返信です。"], ["二つ目のご返信です。"]]  # in order, once each


def test_a_long_pushed_answer_keeps_its_order_when_its_first_batch_fails(app, line_api):
    texts = [f"{i}件目のお知らせです。" for i in range(1, 8)]
    line_api.fail_next.append(Failure(500, kind="push"))
    _push_texts(app, *texts)
    drain_jobs(app)
    assert _pushed(line_api) == []  # messages 6 and 7 did not go before 1 to 5
    assert _run_scheduled_now(app) == 1
    drain_jobs(app)
    assert _pushed(line_api) == [texts[:5], texts[5:]]


def test_a_push_line_refuses_as_invalid_is_dropped_and_the_next_one_goes(app, line_api, caplog):
    line_api.fail_next.append(Failure(400, kind="push"))
    _push_texts(app, "届かないご返信です。")
    _push_texts(app, "次のご返信です。")
    drain_jobs(app)
    assert _pushed(line_api) == [["次のご返信です。"]]
    assert "refused a push as invalid" in caplog.text


def test_a_push_that_waited_more_than_a_day_is_dropped_not_sent_late(app, line_api, caplog):
    client = app.extensions["redis"]
    pushes.add(client, USER, [("00000000-0000-4000-8000-000000000001", [{"type": "text", "text": "昨日の返信"}])],
               time.time() - 25 * 3600)
    _push_texts(app, "今日のご返信です。")
    drain_jobs(app)
    assert _pushed(line_api) == [["今日のご返信です。"]]
    assert "waited more than a day" in caplog.text and USER not in caplog.text


def test_one_drain_at_a_time_per_person(app, line_api):
    client = app.extensions["redis"]
    pushes.add(client, USER, [("00000000-0000-4000-8000-000000000002", [{"type": "text", "text": "x"}])],
               time.time())
    with drain_lock(client, pushes_drain_key(USER), 30, 0, RuntimeError):  # another job is sending
        with pytest.raises(pushes.PushesBusy):
            pushes.drain(client, USER, lambda push: None, wait=0.1)
    sent = []
    assert pushes.drain(client, USER, sent.append) == 1 and sent[0].messages == [{"type": "text", "text": "x"}]
    assert pushes.drain(client, USER, sent.append) == 0  # nothing is sent twice


def test_a_worker_that_died_after_the_push_sends_it_again_and_line_drops_the_duplicate(app, line_api):
    client = app.extensions["redis"]
    batch = ("00000000-0000-4000-8000-000000000003", [{"type": "text", "text": "一度だけ"}])
    pushes.add(client, USER, [batch, batch], time.time())  # the same batch twice: sent, not removed, queued again
    with app.app_context():
        jobs.enqueue("handlers.line.delivery:drain_pushes_job", user_id=USER)
    drain_jobs(app)
    assert _pushed(line_api) == [["一度だけ"]]
    assert pushes.pending(client, USER) == 0


def test_a_redis_that_refuses_the_list_still_gets_the_pushes_out(make_app, redis_url, line_api):
    from tests.helpers_registration import drop_redis_login, limited_redis_login

    name, url = limited_redis_login(redis_url, "~rq:*", "&rq:*")  # the job queue (and its channel), no bot:line:*:push
    try:
        bot = make_app(REDIS_URL=url)
        _push_texts(bot, "一つ目", "二つ目")
        drain_jobs(bot)
        assert _pushed(line_api) == [["一つ目", "二つ目"]]
    finally:
        drop_redis_login(redis_url, name)
