"""``flask --app app check`` against the fake LINE, the test SMTP server, PostgreSQL and Redis; and ``queues``."""

from __future__ import annotations

import socket
import threading

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from handlers import jobs
from handlers.jobs import worker
from tests.conftest import SECRET_KEY
from tests.line_driver import ACCESS_TOKEN


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again at once: nothing listens there


def test_everything_up_exits_0_and_says_what_answers(app, runner, line_api):
    line_api.quota, line_api.quota_used = 1000, 34
    try:
        result = runner.invoke(args=["check"])
    finally:
        line_api.quota, line_api.quota_used = None, 0
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ok   database" in out and "postgresql" in out
    assert "ok   redis" in out
    assert "ok   LINE" in out and "@123abcde" in out and "quota this month 1,000, used 34, left 966" in out
    assert "ok   SMTP" in out and "answers EHLO" in out
    assert "--   Slack" in out  # not configured: no failure
    assert "every configured dependency answers" in out
    # Secrets never printed.
    assert SECRET_KEY not in out and ACCESS_TOKEN not in out
    assert [c.kind for c in line_api.calls] == ["bot_info", "quota", "quota_consumption"]


def test_no_quota_plan(app, runner, line_api):
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "no monthly quota" in result.output


def test_dead_smtp_exits_1_and_names_it(make_app):
    app = make_app(SMTP_URL=f"smtp://mailer:hunter2-secret@127.0.0.1:{_dead_port()}")
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1, result.output
    assert "FAIL SMTP" in result.output and "ConnectionRefusedError" in result.output
    assert "hunter2-secret" not in result.output and "mailer:***@127.0.0.1" in result.output
    assert "do not answer: SMTP" in result.output or "does not answer: SMTP" in result.output


def test_dead_redis_exits_1_and_names_it(make_app):
    app = make_app(REDIS_URL=f"redis://:redis-secret@127.0.0.1:{_dead_port()}/0")
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1, result.output
    assert "FAIL redis" in result.output and "redis-secret" not in result.output
    assert "ok   database" in result.output


def test_bad_line_token_exits_1(make_app):
    app = make_app(LINE_CHANNEL_ACCESS_TOKEN="not-the-token")
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1, result.output
    assert "FAIL LINE" in result.output and "HTTP 401" in result.output
    assert "not-the-token" not in result.output


@pytest.fixture
def fake_slack():
    """A stand-in for Slack's Web API ``auth.test`` (the Slack edge's own fake may replace it)."""
    answers = {"valid": "xoxb-valid-token"}
    fake = Flask("fake_slack")

    @fake.post("/api/auth.test")
    def auth_test():
        if request.headers.get("Authorization") != f"Bearer {answers['valid']}":
            return jsonify({"ok": False, "error": "invalid_auth"})
        return jsonify({"ok": True, "team": "あいコムこうか", "user": "aicom_bot", "team_id": "T1", "user_id": "U1"})

    server = make_server("127.0.0.1", 0, fake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/"
    server.shutdown()


def test_slack_checked_only_when_configured(make_app, fake_slack):
    good = make_app(SLACK_BOT_TOKEN="xoxb-valid-token", SLACK_API_BASE_URL=fake_slack)
    result = good.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "ok   Slack" in result.output and "aicom_bot" in result.output
    assert "xoxb-valid-token" not in result.output
    bad = make_app(SLACK_BOT_TOKEN="xoxb-revoked", SLACK_API_BASE_URL=fake_slack)
    result = bad.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1 and "FAIL Slack" in result.output


# -- queues ------------------------------------------------------------------------------------
def failing_job(to: str) -> None:
    """A job that always fails, saying the address in its text (which must never be shown)."""
    raise ConnectionRefusedError(f"could not reach the server for {to}")


def succeeding_job() -> None:
    """A job that does nothing."""


def test_queues_show_failed_jobs_by_class_and_retry_puts_them_back(app, runner):
    with app.test_request_context():
        jobs.enqueue("tests.ops.test_check:succeeding_job")
        from rq import Queue

        queue = Queue(jobs.QUEUE_NAME, connection=app.extensions["redis"])
        # Queued without retries, so one run sends it to the failed registry.
        queue.enqueue(jobs._rq_entry, "tests.ops.test_check:failing_job", {"to": "taro@example.jp"}, None,
                      description="job:failing_job", failure_ttl=3600)
    result = runner.invoke(args=["queues"])
    assert result.exit_code == 0, result.output
    assert "rq/interactive: 2 waiting, 0 running, 0 scheduled for retry, 0 failed" in result.output
    worker.run_worker(app, burst=True)
    result = runner.invoke(args=["queues"])
    assert "rq/interactive: 0 waiting" in result.output and "1 failed" in result.output
    assert "failing_job: ConnectionRefusedError" in result.output
    assert "taro@example.jp" not in result.output
    assert "queues:" in runner.invoke(args=["check", "--queues"]).output
    result = runner.invoke(args=["queues", "retry"])
    assert result.exit_code == 0, result.output
    assert "rq: 1 re-queued" in result.output
    result = runner.invoke(args=["queues"])
    assert "rq/interactive: 1 waiting" in result.output and "0 failed" in result.output
