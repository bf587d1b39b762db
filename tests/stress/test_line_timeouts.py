"""LINE's reply API taking longer than our read timeout (5 s): the webhook is not held up, the
customer is answered, and the turn is not run twice.

Known limit, kept visible as an expected failure: when the reply times out on our side but
LINE did deliver it (a slow answer, not a lost request), the fallback push sends the same
answer a second time. Nothing in LINE's reply API tells the two apart; the fix is a decision
for the delivery code's owner (push only after a connect failure, or accept the rare double).
"""

from __future__ import annotations

import time

import pytest
from flask import Flask, request

from handlers.emulator.line_api_fake import make_blueprint
from handlers.emulator.line_api_recorder import LineApiRecorder
from tests.line_driver import ACCESS_TOKEN, LineUser, drain_events, drain_jobs
from tests.servers import ServerThread as _ServerThread


@pytest.fixture
def very_slow_line():
    recorder = LineApiRecorder(ACCESS_TOKEN)
    fake = Flask("very_slow_line")
    fake.register_blueprint(make_blueprint(recorder))

    @fake.before_request
    def lag():
        if request.path.endswith("/message/reply"):
            time.sleep(6)  # longer than the 5 s read timeout

    server = _ServerThread(fake)
    yield recorder, f"http://127.0.0.1:{server.port}"
    server.stop()


def _slow_app(make_app, url):
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

    bot = make_app(LINE_API_BASE_URL=url)
    bot.extensions["line_messaging_api"] = MessagingApi(ApiClient(Configuration(host=url, access_token=ACCESS_TOKEN)))
    return bot


def test_a_reply_that_times_out_is_answered_by_push_and_the_webhook_never_waits(app, make_app, very_slow_line):
    recorder, url = very_slow_line
    bot = _slow_app(make_app, url)
    user = LineUser(bot.test_client(), recorder, bot)
    started = time.perf_counter()
    event = user.text_event("ヘルプ")
    assert user.post([event], drain=False).status_code == 200
    assert time.perf_counter() - started < 0.5
    assert drain_events(bot) == 1
    drain_jobs(bot)
    assert recorder.accepted("push", user.user_id)  # the customer is answered
    assert drain_events(bot) == 0  # and the turn is not run again


@pytest.mark.xfail(strict=True, reason="a reply LINE delivered after our read timeout is pushed again (README)")
def test_a_reply_that_timed_out_but_was_delivered_is_not_sent_twice(app, make_app, very_slow_line):
    recorder, url = very_slow_line
    bot = _slow_app(make_app, url)
    user = LineUser(bot.test_client(), recorder, bot)
    user.post([user.text_event("ヘルプ")], drain=False)
    drain_events(bot)
    drain_jobs(bot)
    recorder.wait_for(lambda r: r.accepted("reply", user.user_id), timeout=5)
    assert len(recorder.messages(user.user_id)) == 1
