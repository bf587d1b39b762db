"""Urgent work first (issue 22, point 2): jobs go to ``interactive`` (mail, pushes, staff relays) or
``bulk`` (menu switches, notices, syncs), a worker always takes interactive work first, and each
queue's depth and age are in /metrics."""

from __future__ import annotations

from rq import Queue

from handlers import jobs
from handlers.mail import send_mail_job
from tests.line_driver import drain_jobs

ORDER_KEY = "bot:test:job-order"


def record(label: str) -> None:
    """A job that notes when it ran (the test reads the order back)."""
    from flask import current_app

    current_app.extensions["redis"].rpush(ORDER_KEY, label)


def test_edges_file_their_jobs_under_the_right_queue(app):
    with app.app_context():
        assert jobs.queue_of(jobs.job_path(send_mail_job)) == jobs.INTERACTIVE
        assert jobs.queue_of("handlers.line.richmenu:switch_menu_job") == jobs.BULK
        assert jobs.queue_of("handlers.line.notices.batch:send_batch_job") == jobs.BULK
        assert jobs.queue_of("handlers.line.delivery:drain_pushes_job") == jobs.INTERACTIVE


def test_a_mail_queued_behind_a_thousand_bulk_jobs_runs_first(app):
    jobs.bulk(app, record)
    with app.test_request_context():
        for n in range(40):
            jobs.enqueue(record, label=f"bulk{n}")
    app.extensions["bulk_jobs"].discard(jobs.job_path(record))  # the same job, queued as interactive now
    with app.test_request_context():
        jobs.enqueue(record, label="mail")
    assert Queue(jobs.BULK, connection=app.extensions["redis"]).count == 40
    drain_jobs(app)
    order = [x.decode() for x in app.extensions["redis"].lrange(ORDER_KEY, 0, -1)]
    assert order[0] == "mail" and len(order) == 41


def test_jobs_of_the_previous_release_in_the_old_queue_still_run(app):
    Queue(jobs.LEGACY, connection=app.extensions["redis"]).enqueue(
        jobs._rq_entry, jobs.job_path(record), {"label": "old"}, None, None)
    drain_jobs(app)
    assert app.extensions["redis"].lrange(ORDER_KEY, 0, -1) == [b"old"]


def test_each_queue_has_its_depth_and_age_in_metrics(app, client):
    jobs.bulk(app, record)
    with app.test_request_context():
        jobs.enqueue(record, label="waiting")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'partition="bulk"' in text and 'partition="interactive"' in text
    bulk_depth = [line for line in text.splitlines() if "queue_depth" in line and 'partition="bulk"' in line]
    assert bulk_depth and bulk_depth[0].rstrip().endswith("1.0")
