"""Bill notices on a schedule: the month started once, at the hour, after the import; the worker's periodic hooks."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import update

from storage.models import Statement
from tests.line.test_notices import TOKYO, app_config, delivered_once, pushes, rows, seed_linked  # noqa: F401


class RunningClock:
    """Tokyo time from ``start``, moving with the real clock (retries and leases need time to pass)."""

    def __init__(self, start: datetime) -> None:
        self.offset = start - datetime.now(TOKYO)

    def __call__(self) -> datetime:
        return datetime.now(TOKYO) + self.offset


def test_the_schedule_starts_the_month_once_at_the_hour_after_the_import(make_app, line_api):
    from handlers.jobs.worker import run_worker
    from handlers.line.notices import schedule

    clock = RunningClock(datetime(2026, 11, 25, 9, 30, tzinfo=TOKYO))
    app = make_app(CLOCK=clock, NOTICE_HOUR=10, NOTICE_IMPORT_QUIET_SECONDS=600)
    with app.extensions["db"].engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE customers, accounts, line_links, statements, statement_items, "
                             "notice_deliveries RESTART IDENTITY CASCADE")
    app.extensions["redis"].flushdb()
    users = seed_linked(app, 3)
    with app.app_context():
        schedule.tick()  # 9:30: too early
        assert pushes(line_api, None) == [] and rows(app) == []
        clock.offset += timedelta(minutes=35)  # 10:05, but the import finished only just now (reload)
        with app.extensions["db"].begin() as db:
            db.execute(update(Statement).values(imported_at=clock() - timedelta(minutes=2)))
        schedule.tick()
        assert rows(app) == []
        clock.offset += timedelta(minutes=15)  # 10:20: the statements have been quiet for 17 minutes
        schedule.tick()
        run_worker(app, burst=True)
        schedule.tick()
        run_worker(app, burst=True)
        assert delivered_once(line_api, users)
        app.extensions["redis"].delete("bot:notices:2026-11:scheduled")  # even with Redis forgetting it …
        schedule.tick()  # … the delivery rows say the month has started
        run_worker(app, burst=True)
        assert len(pushes(line_api, None)) == 3


TICKS: list[float] = []


def record_tick() -> None:
    """A periodic hook for the test below (looked up by path, as the worker does)."""
    TICKS.append(time.monotonic())


def test_a_running_worker_calls_its_periodic_hooks(app):
    import threading

    from handlers.jobs import worker

    TICKS.clear()
    assert ("handlers.line.notices.schedule:tick", 60) in app.extensions["periodic_jobs"]  # the schedule's minute tick
    app.extensions["periodic_jobs"] = [("tests.line.test_notices_schedule:record_tick", 0.5)]
    stop = threading.Event()
    thread = threading.Thread(target=worker._run_periodic, args=(app, stop), daemon=True)
    thread.start()
    time.sleep(2.6)
    stop.set()
    thread.join(3)
    assert 2 <= len(TICKS) <= 4  # every second it looks; a 0.5 s period runs on each look

