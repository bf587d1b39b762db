"""Mail and background jobs: sent at once without a job queue, retries that block nothing, refusals, IDN, QUIT."""

from __future__ import annotations

import time
import uuid

from tests.line_driver import drain_jobs


def test_mail_is_sent_at_once_when_the_job_queue_is_unreachable(make_app, redis_url, mailbox):
    from handlers import jobs
    from tests.helpers_registration import drop_redis_login, limited_redis_login

    name, url = limited_redis_login(redis_url, "~bot:*")  # a real Redis login that may not touch rq:*
    try:
        no_queue = make_app(REDIS_URL=url)
        with no_queue.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="taro@example.jp", subject="件名", body="本文")
    finally:
        drop_redis_login(redis_url, name)
    assert [m["Subject"] for m in mailbox.wait(1)] == ["件名"]


def test_inline_jobs_waiting_to_retry_do_not_hold_up_other_jobs(make_app, line_api):
    """make run: four mails failing (SMTP down) wait for their retry without blocking a push."""
    from handlers import jobs

    inline = make_app(JOBS_INLINE=True, SMTP_URL="smtp://127.0.0.1:1", JOB_RETRY_INTERVALS=[30])
    runner = inline.extensions["job_runner"]
    try:
        with inline.app_context():
            for _ in range(4):
                jobs.enqueue("handlers.mail:send_mail_job", to="taro@example.jp", subject="件名", body="本文")
            time.sleep(0.3)  # the mails have failed once and wait 30 s for their retry
            jobs.enqueue("handlers.line.delivery:push_job", user_id="U" + "2" * 32,
                         messages=[{"type": "text", "text": "x"}], retry_key=str(uuid.uuid4()))
        assert line_api.wait_for(lambda api: api.accepted("push", "U" + "2" * 32), timeout=3)
        deadline = time.monotonic() + 2
        while runner.pending != 4 and time.monotonic() < deadline:  # the push's thread is finishing
            time.sleep(0.01)
        assert runner.pending == 4  # the mails are still due for a retry
    finally:
        runner.shutdown(wait=True)


def test_a_refused_mail_does_not_put_the_address_in_the_worker_log(make_app, caplog):
    """The SMTP server refuses the recipient; smtplib's error quotes the address. RQ logs a failed
    job's whole traceback, so the worker log must not see that text."""
    from aiosmtpd.controller import Controller

    from handlers import jobs
    from tests.servers import free_port as _free_port

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return f"550 5.1.1 <{address}>: Recipient address rejected"

    port = _free_port()
    server = Controller(Refusing(), hostname="127.0.0.1", port=port)
    server.start()
    try:
        queued = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        with queued.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="hanako.secret@example.jp", subject="件名", body="本文")
        with caplog.at_level("INFO"):
            drain_jobs(queued)
    finally:
        server.stop()
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))  # not aiosmtpd's
    assert "SMTPRecipientsRefused" in ours  # the failure is logged...
    assert "hanako.secret" not in ours  # ...without the address


def test_mail_to_an_internationalised_domain_reaches_a_server_without_smtputf8(make_app):
    """The validator accepts 例え.jp; many mail servers do not speak SMTPUTF8, so the domain
    travels in its ASCII (punycode) form."""
    from aiosmtpd.controller import Controller

    from handlers import jobs
    from tests.servers import Mailbox
    from tests.servers import free_port as _free_port

    box, port = Mailbox(), _free_port()
    server = Controller(box, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    server.start()
    try:
        plain = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
        with plain.app_context():
            jobs.enqueue("handlers.mail:send_mail_job", to="taro@例え.jp", subject="件名", body="本文")
        drain_jobs(plain)
        received = box.wait(1)
    finally:
        server.stop()
    assert [m["To"] for m in received] == ["taro@xn--r8jz45g.jp"]
    assert Mailbox.body(received[0]).strip() == "本文"


def test_a_mail_the_server_accepted_is_not_sent_again_when_quit_goes_wrong(app):
    """The server took the mail (250 after DATA), then answered QUIT oddly. Raising would make
    the job retry and the customer receive the mail twice."""
    from aiosmtpd.controller import Controller

    from handlers import mail
    from tests.servers import Mailbox
    from tests.servers import free_port as _free_port

    class GrumpyAtQuit(Mailbox):
        async def handle_QUIT(self, server, session, envelope):
            return "421 4.3.2 shutting down"

    box, port = GrumpyAtQuit(), _free_port()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        config = dict(app.config, SMTP_URL=f"smtp://127.0.0.1:{port}")
        mail.send(config, "taro@example.jp", "件名", "本文")
        received = box.wait(1)
    finally:
        server.stop()
    assert [m["Subject"] for m in received] == ["件名"]

