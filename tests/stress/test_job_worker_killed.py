"""An RQ job worker SIGKILLed in the middle of sending a mail: RQ brings the job back, and the
mail arrives once.

The SMTP server holds the DATA command (the mail is on the wire, not yet accepted) while the
test kills the worker process group. The job stays in RQ's started registry; once the dead
worker's heartbeat has expired, the next worker's maintenance finds it abandoned and, since it
has retries left, schedules its retry (``StartedJobRegistry.cleanup``; the test runs that
clean-up with the clock moved past the expiry instead of waiting for it). The next attempt
sends the mail.

Limit (README): a worker killed after the server accepted the mail but before RQ recorded
the job as done sends it again on the retry: mail is at-least-once.
"""

from __future__ import annotations

import asyncio
import threading
import time

from aiosmtpd.controller import Controller
from rq import Queue
from rq.job import Job

from handlers import jobs
from tests.helpers_processes import kill, start_worker, wait_until, worker_env
from tests.line_driver import drain_jobs
from tests.servers import free_port as _free_port


class _HoldingServer:
    def __init__(self) -> None:
        self.hold = True
        self.entered = threading.Event()
        self.received: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.hold:
            self.entered.set()
            await asyncio.sleep(30)  # the worker is killed meanwhile; this answer goes nowhere
            return "451 4.3.0 too late"
        self.received.append(envelope.rcpt_tos[0])
        return "250 OK"


def test_a_job_worker_killed_mid_mail_gets_its_job_back_and_the_mail_arrives_once(app, make_app, app_config,
                                                                                 fake_line_server):
    handler = _HoldingServer()
    port = _free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        bot = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        with bot.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="killed@example.jp", subject="件名", body="本文")
        worker = start_worker(worker_env(app_config, fake_line_server[1], SMTP_URL=f"smtp://127.0.0.1:{port}"))
        try:
            assert handler.entered.wait(60)  # the job is sending
        finally:
            kill(worker)
        connection = bot.extensions["redis"]
        queue = Queue(jobs.QUEUE_NAME, connection=connection)
        assert queue.started_job_registry.get_job_ids()  # RQ still sees it as running
        queue.started_job_registry.cleanup(timestamp=time.time() + 24 * 3600)  # the heartbeat has expired
        scheduled = queue.scheduled_job_registry.get_job_ids()
        assert len(scheduled) == 1  # abandoned, with retries left: back for another attempt
        handler.hold = False
        for job_id in scheduled:  # its retry time has come
            queue.scheduled_job_registry.remove(job_id)
            queue._enqueue_job(Job.fetch(job_id, connection=connection))
        drain_jobs(bot)
        wait_until(lambda: handler.received, timeout=10)
        time.sleep(0.5)
    finally:
        server.stop()
    assert handler.received == ["killed@example.jp"]
    assert queue.failed_job_registry.count == 0
