"""PostgreSQL stopped for real (``pg_ctl stop -m immediate`` on a throwaway cluster) and started again.

The webhook still takes the events (they wait in the Redis queue); the worker keeps them
pending and answers each one, once and in order, when the database is back; the web pages
answer 503 with a Japanese page meanwhile; nothing the customer sent is dropped.
"""

from __future__ import annotations

import time

import psycopg
from alembic import command
from sqlalchemy import func, select

from storage.db import alembic_config
from storage.models import EventOutcome
from tests import log_guard
from tests.helpers_processes import start_worker, stop, worker_env
from tests.line_driver import LineUser


def test_events_wait_while_postgresql_is_down_and_are_answered_once_in_order_when_it_is_back(
        app, make_app, app_config, own_postgres, fake_line_server, tmp_path):
    with psycopg.connect(own_postgres.url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE DATABASE aicom")
    database_url = own_postgres.url.rsplit("/", 1)[0] + "/aicom"
    command.upgrade(alembic_config(database_url), "heads")
    recorder, line_url = fake_line_server
    recorder.clear()
    bot = make_app(DATABASE_URL=database_url)
    bot.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error pages answer
    user = LineUser(bot.test_client(), recorder, bot)
    stderr_path = tmp_path / "worker.err"
    with open(stderr_path, "wb") as stderr:
        worker = start_worker(worker_env(app_config, line_url, DATABASE_URL=database_url), stderr=stderr)
        try:
            first = user.text_event("ヘルプ")
            assert user.post([first], drain=False).status_code == 200
            assert recorder.wait_for(lambda r: len(r.accepted("reply", user.user_id)) == 1, timeout=60)
            own_postgres.stop("immediate")
            events = [user.text_event(text) for text in ("今月の料金", "登録", "キャンセル")]
            for event in events:
                assert user.post([event], drain=False).status_code == 200  # queued: the webhook needs no database
            client = bot.test_client()
            health = client.get("/healthz")
            assert health.status_code == 503 and "database" in health.get_data(as_text=True)
            page = client.get("/register/complete/" + "a" * 43)
            assert page.status_code == 503
            html = page.get_data(as_text=True)
            assert '<html lang="ja">' in html and "ただいま" in html
            time.sleep(4)
            assert len(recorder.accepted("reply", user.user_id)) == 1  # waiting, not dropped, not failed
            assert worker.poll() is None
            own_postgres.start()
            assert recorder.wait_for(lambda r: len(r.messages(user.user_id)) >= 4, timeout=90)
            time.sleep(1.5)  # would a second answer come? (a bounded look)
        finally:
            stop(worker)
    delivered = [c for c in recorder.accepted() if c.user_id == user.user_id and c.kind in ("reply", "push")]
    assert len(delivered) == 4
    tokens = [c.body.get("replyToken") for c in delivered if c.kind == "reply"]
    assert tokens == [first["replyToken"]] + [e["replyToken"] for e in events][:len(tokens) - 1]
    with bot.extensions["db"].begin() as session:
        assert session.scalar(select(func.count()).select_from(EventOutcome)) == 4
    err = stderr_path.read_text(errors="replace")
    assert "Traceback" not in err, err
    assert not log_guard.check_text(err, "worker stderr")
