"""Structured logs: JSON lines, a request id per request, carried into the jobs that request queued."""

from __future__ import annotations

import json
import logging

import pytest

from handlers import jobs, logs
from handlers.jobs import worker

SEEN: list[str | None] = []


def remember_request_id() -> None:
    """A job that notes the request id it runs under."""
    SEEN.append(logs.current_request_id())


def test_json_lines_carry_the_request_id():
    record = logging.LogRecord("handlers.test", logging.WARNING, __file__, 1, "push failed for %s", ("U1234…abcd",),
                               None)
    with logs.request_context("req-123"):
        line = logs.JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "handlers.test"
    assert entry["message"] == "push failed for U1234…abcd" and entry["request_id"] == "req-123"
    assert entry["ts"].endswith("+00:00")
    plain = logs.PlainFormatter().format(record)
    assert "[-]" in plain  # outside a request


def test_every_response_names_its_request_id(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert first and second and first != second
    # Without a trusted proxy, a client cannot choose its id.
    assert client.get("/healthz", headers={"X-Request-Id": "chosen-by-client"}).headers["X-Request-Id"] \
        != "chosen-by-client"


def test_a_trusted_proxys_request_id_is_kept(make_app):
    client = make_app(TRUSTED_PROXY_HOPS=1).test_client()
    assert client.get("/healthz", headers={"X-Request-Id": "edge-42"}).headers["X-Request-Id"] == "edge-42"
    odd = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}).headers["X-Request-Id"]
    assert odd != "bad id with spaces"


@pytest.mark.parametrize("inline", [False, True])
def test_jobs_run_under_the_request_id_that_queued_them(make_app, inline):
    app = make_app(JOBS_INLINE=inline)
    SEEN.clear()
    with app.test_request_context(), logs.request_context("req-job-1"):
        jobs.enqueue("tests.ops.test_logs:remember_request_id")
    if inline:
        runner = app.extensions["job_runner"]
        runner.shutdown(wait=True)
    else:
        worker.run_worker(app, burst=True)
    assert SEEN == ["req-job-1"]


def test_log_format_is_checked_at_start_up(make_app):
    from app import ConfigError

    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        make_app(LOG_FORMAT="xml")
