"""Dependencies failing for real, fast: LINE answering 429/500 or refusing the reply token, an
SMTP server that refuses or hangs. Each failure is retried from durable storage (the RQ queue
in Redis, retry keys derived from the event id), in order, reported in the log (by class,
never with the address), and the webhook never waits for any of it.

Slack down belongs to the Slack handoff work (its own tests).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiosmtpd.controller import Controller
from rq import Queue
from rq.job import Job

from handlers import jobs, mail
from handlers.emulator.line_api_recorder import Failure
from tests.line_driver import drain_jobs
from tests.servers import free_port as _free_port


def _run_scheduled_now(app) -> int:
    """Move every job waiting for its retry time to the queue (what RQ's scheduler does when it is due)."""
    queue = Queue(jobs.QUEUE_NAME, connection=app.extensions["redis"])
    registry = queue.scheduled_job_registry
    ids = registry.get_job_ids()
    for job_id in ids:
        registry.remove(job_id)
        queue._enqueue_job(Job.fetch(job_id, connection=app.extensions["redis"]))
    return len(ids)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_line_failing_the_reply_and_the_first_push_still_answers_once(line_user, line_api, app, status):
    # The reply, then the first push attempt (named: a slow turn also shows the loading animation).
    line_api.fail_next.extend([Failure(status, kind="reply"), Failure(status, kind="push")])
    started = time.perf_counter()
    event = line_user.text_event("ヘルプ")
    assert line_user.post([event], drain=False).status_code == 200
    assert time.perf_counter() - started < 0.5  # the webhook waits for none of it
    from tests.line_driver import drain_events

    drain_events(app)
    drain_jobs(app)  # the push meets the failure: retried later from the queue
    assert line_api.accepted("push", line_user.user_id) == []
    assert _run_scheduled_now(app) == 1
    drain_jobs(app)
    pushes = line_api.accepted("push", line_user.user_id)
    assert len(pushes) == 1 and "ご用件をお選びください" in pushes[0].body["messages"][0]["text"]
    from handlers.line.delivery import retry_key

    # The retry key comes from the event id, so every attempt (and a worker that took over)
    # sends the same one and LINE drops a duplicate.
    assert pushes[0].retry_key == retry_key(event["webhookEventId"], 0)


class _Refusing:
    def __init__(self) -> None:
        self.refuse = True

    async def handle_DATA(self, server, session, envelope):
        return "451 4.3.0 try again later" if self.refuse else "250 OK"


class _Hanging:
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(5)
        return "250 OK"


def _queue_mail(app, to: str) -> None:
    with app.app_context():
        jobs.enqueue("handlers.mail:send_mail_job", to=to, subject="件名", body="本文")


def test_an_smtp_server_that_refuses_for_a_while_gets_each_mail_once(make_app, caplog):
    """Mails to different people are independent jobs: each is retried on its own schedule, so
    their order after an outage is not kept (a customer's own messages are: see the LINE tests)."""
    handler = _Refusing()
    received = []

    async def take(server, session, envelope):
        if handler.refuse:
            return "451 4.3.0 try again later"
        received.append(envelope.rcpt_tos[0])
        return "250 OK"

    handler.handle_DATA = take
    port = _free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        bot = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        for i in range(3):
            _queue_mail(bot, f"order{i}@example.jp")
        drain_jobs(bot)
        assert received == []
        assert "MailError" in caplog.text or "SMTP" in caplog.text  # reported...
        handler.refuse = False
        assert _run_scheduled_now(bot) == 3  # ...and kept, in Redis, for the retry
        drain_jobs(bot)
    finally:
        server.stop()
    assert sorted(received) == [f"order{i}@example.jp" for i in range(3)]


def test_an_smtp_server_that_hangs_times_out_and_the_mail_waits_for_its_retry(make_app, monkeypatch):
    monkeypatch.setattr(mail, "SMTP_TIMEOUT_SECONDS", 1)
    port = _free_port()
    server = Controller(_Hanging(), hostname="127.0.0.1", port=port)
    server.start()
    try:
        bot = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        _queue_mail(bot, "hang@example.jp")
        started = time.monotonic()
        drain_jobs(bot)
        assert time.monotonic() - started < 4  # gave up after the timeout, not after the server
        queue = Queue(jobs.QUEUE_NAME, connection=bot.extensions["redis"])
        assert queue.scheduled_job_registry.count == 1  # kept for its retry
    finally:
        server.stop()
