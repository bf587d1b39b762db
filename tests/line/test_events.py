"""The asynchronous event path: the webhook only queues; workers answer, once, in order.

Real Redis, real PostgreSQL, the fake LINE over HTTP; worker processes are real
``flask --app app worker`` processes, killed with SIGKILL where a test says so.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from flask import Flask, request
from sqlalchemy import func, select

from handlers.emulator.line_api_fake import make_blueprint
from handlers.emulator.line_api_recorder import LineApiRecorder
from handlers.line.worker import EventWorker
from storage.models import EventOutcome
from tests.helpers_processes import ROOT, kill, start_worker, stop, wait_until, worker_env
from tests.line_driver import ACCESS_TOKEN, LineUser, drain_events, drain_jobs
from tests.servers import ServerThread as _ServerThread


@pytest.fixture
def slow_line():
    """A fake LINE whose reply API takes ``delay`` seconds to answer (the request is recorded
    after the wait, as a slow server would handle it); pushes and the rest answer at once."""
    recorder = LineApiRecorder(ACCESS_TOKEN)
    fake = Flask("slow_line")
    fake.register_blueprint(make_blueprint(recorder))
    settings = {"delay": 2.5}

    in_flight = threading.Lock()

    @fake.before_request
    def lag():
        if request.path.endswith("/message/reply"):
            with in_flight:
                settings["now"] = settings.get("now", 0) + 1
                settings["most_at_once"] = max(settings.get("most_at_once", 0), settings["now"])
            time.sleep(settings["delay"])
            with in_flight:
                settings["now"] -= 1

    server = _ServerThread(fake)
    recorder.settings = settings
    yield recorder, f"http://127.0.0.1:{server.port}"
    server.stop()


def _outcomes(app) -> int:
    with app.extensions["db"].begin() as session:
        return session.scalar(select(func.count()).select_from(EventOutcome))


def test_the_webhook_answers_at_once_while_line_takes_seconds_and_the_customer_still_gets_the_answer(
        make_app, app_config, slow_line):
    """LINE's reply API takes a second (50 times the webhook's bound); the webhook (which only
    queues) still answers in milliseconds, and a worker process answers every customer."""
    recorder, url = slow_line
    recorder.settings["delay"] = 1.0  # two rounds of 8 threads: the replies take 2 s, the webhooks none of it
    application = make_app(LINE_API_BASE_URL=url)
    client = application.test_client()
    users = [LineUser(client, recorder, application) for _ in range(16)]
    worker = _start_worker(dict(_worker_env(app_config, url), EVENT_WORKER_THREADS="8"))
    try:
        _wait_until(lambda: application.extensions["redis"].zcard("bot:events:consumers") >= 8, timeout=30)
        timings = []
        for user in users:
            started = time.perf_counter()
            assert user.post([user.text_event("ヘルプ")], drain=False).status_code == 200
            timings.append(time.perf_counter() - started)
        # Each webhook answered without waiting for LINE (a second a reply); how fast it is, is
        # for the benchmark (bench/), not for a test on a busy machine.
        assert max(timings) < recorder.settings["delay"], f"a webhook took {max(timings) * 1000:.0f} ms"
        assert recorder.wait_for(lambda r: all(r.accepted("reply", u.user_id) for u in users), timeout=60)
    finally:
        _stop(worker)
    for user in users:
        assert len(recorder.accepted("reply", user.user_id)) == 1
        assert recorder.accepted("push", user.user_id) == []


def test_fifty_messages_from_one_person_are_answered_one_at_a_time_in_the_order_sent(app, line_user, line_api):
    events = [line_user.text_event(f"メッセージ{i}") for i in range(50)]
    for event in events:
        assert line_user.post([event], drain=False).status_code == 200
    worker = EventWorker(app, threads=4, block_ms=100)
    worker.start()
    try:
        assert line_api.wait_for(lambda r: len(r.accepted("reply", line_user.user_id)) == 50, timeout=60)
    finally:
        worker.stop()
    tokens = [c.body["replyToken"] for c in line_api.accepted("reply", line_user.user_id)]
    assert tokens == [e["replyToken"] for e in events]  # each reply token used once, in the order sent


def test_fifty_events_in_one_body_are_answered_in_order(app, line_user, line_api):
    events = [line_user.text_event(f"メッセージ{i}") for i in range(50)]
    assert line_user.post(events).status_code == 200
    tokens = [c.body["replyToken"] for c in line_api.accepted("reply", line_user.user_id)]
    assert tokens == [e["replyToken"] for e in events]


def test_different_people_are_answered_in_parallel_across_partitions(app, make_line_user, line_api, slow_line):
    """With LINE slow (1 s a reply), 8 people on 4 threads wait for LINE side by side, not one
    after another (LINE sees replies in flight at once; how long it all takes is the machine's)."""
    recorder, url = slow_line
    recorder.settings["delay"] = 1.0
    app.config["LINE_API_BASE_URL"] = url
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

    app.extensions["line_messaging_api"] = MessagingApi(ApiClient(Configuration(host=url, access_token=ACCESS_TOKEN)))
    client = app.test_client()
    users = [LineUser(client, recorder, app) for _ in range(8)]
    for user in users:
        user.post([user.text_event("ヘルプ")], drain=False)
    worker = EventWorker(app, threads=4, block_ms=100)
    worker.start()
    try:
        assert recorder.wait_for(lambda r: len(r.accepted("reply")) == 8, timeout=20)
    finally:
        worker.stop()
    assert recorder.settings["most_at_once"] >= 2


def test_a_redelivered_event_is_answered_once(line_user, line_api, app):
    event = line_user.text_event("ヘルプ")
    assert line_user.post([event], drain=False).status_code == 200
    redelivery = dict(event, deliveryContext={"isRedelivery": True})
    assert line_user.post([redelivery], drain=False).status_code == 200
    assert drain_events(app) == 1
    assert line_user.post([redelivery]).status_code == 200  # after it was handled, too
    assert len(line_api.accepted("reply", line_user.user_id)) == 1
    assert _outcomes(app) == 1


def test_an_event_whose_reply_token_went_stale_is_answered_by_one_push(line_user, line_api, app):
    event = dict(line_user.text_event("ヘルプ"), timestamp=int((time.time() - 120) * 1000))
    assert line_user.post([event]).status_code == 200
    assert line_api.accepted("reply") == []
    drain_jobs(app)
    pushes = line_api.accepted("push", line_user.user_id)
    assert len(pushes) == 1 and pushes[0].retry_key
    assert "ご用件をお選びください" in pushes[0].body["messages"][0]["text"]


def test_the_reply_token_margin_is_a_setting(make_app, line_api):
    eager = make_app(REPLY_TOKEN_MAX_AGE_SECONDS=0)
    user = LineUser(eager.test_client(), line_api, eager)
    user.post([dict(user.text_event("ヘルプ"), timestamp=int((time.time() - 1) * 1000))])
    assert line_api.accepted("reply") == []


def test_redis_down_is_503_and_the_redelivery_is_then_handled_once(make_app, line_api, app, line_user):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    event = line_user.text_event("ヘルプ")
    down = LineUser(broken.test_client(), line_api, broken, line_user.user_id)
    assert down.post([event]).status_code == 503
    assert line_api.calls == []
    redelivery = dict(event, deliveryContext={"isRedelivery": True})
    assert line_user.post([redelivery]).status_code == 200
    assert line_user.post([redelivery]).status_code == 200
    assert len(line_api.accepted("reply", line_user.user_id)) == 1


def test_a_full_partition_is_503_so_line_redelivers(make_app, line_api):
    tiny = make_app(EVENT_QUEUE_MAX=1, EVENT_PARTITIONS=1)
    tiny.extensions["redis"].flushdb()
    user = LineUser(tiny.test_client(), line_api, tiny)
    assert user.post([user.text_event("一つ目")], drain=False).status_code == 200
    second = user.text_event("二つ目")
    assert user.post([second], drain=False).status_code == 503
    drain_events(tiny)
    assert user.post([second]).status_code == 200  # the redelivery, once there is room
    assert len(line_api.accepted("reply", user.user_id)) == 2


def test_the_outbox_payload_is_erased_once_delivered(line_user, app):
    line_user.say("ヘルプ")
    with app.extensions["db"].begin() as session:
        row = session.scalars(select(EventOutcome)).one()
        assert row.payload is None and row.delivered_at is not None


def test_a_worker_that_took_over_delivers_the_committed_turn_instead_of_running_it_again(app, line_user,
                                                                                       line_api, mailbox):
    """A turn whose worker died after the commit (the outbox row is there, nothing sent): the
    worker that takes the partition over sends that answer and runs its effects, once."""
    from tests.helpers_registration import seed_customer, until_confirm

    seed_customer(app)
    until_confirm(line_user)
    event = line_user.text_event("仮登録する")
    queue = app.extensions["event_queue"]
    # Run only the turn (as the dead worker did): commit, outbox row, no delivery, no ack.
    from handlers.line.queued import QueuedEvent
    from handlers.line.turn import run_turn

    assert line_user.post([event], drain=False).status_code == 200
    entry = _read_one(queue)
    with app.app_context():
        run_turn(app, QueuedEvent.from_json(entry.payload))
    assert line_api.accepted("reply", line_user.user_id)[-1].body["replyToken"] != event["replyToken"]
    # The consumer that takes over reads it again (a second delivery) and finishes it.
    assert drain_events(app) == 1
    replies = [c for c in line_api.accepted("reply", line_user.user_id) if c.body["replyToken"] == event["replyToken"]]
    assert len(replies) == 1 and "仮登録が完了しました" in replies[0].body["messages"][0]["text"]
    drain_jobs(app)
    assert len(mailbox.wait(1)) == 1
    assert drain_events(app) == 0
    drain_jobs(app)
    assert len(mailbox.messages) == 1


def _read_one(queue):
    from storage.events import Leases

    leases = Leases()
    queue.ensure_groups(force=True)
    for partition in range(queue.partitions):
        entries = queue.read([partition], leases.consumer, pending=False)
        if entries:
            return entries[0]
    raise AssertionError("nothing queued")


# -- real worker processes, killed -------------------------------------------------------------
_worker_env, _start_worker, _kill, _stop = worker_env, start_worker, kill, stop  # tests/helpers_processes.py


def test_a_worker_killed_mid_turn_loses_and_doubles_nothing(app, app_config, line_user, line_api,
                                                          fake_line_server, database_url):
    """The turn blocks inside its transaction (a table lock held by the test), the worker is
    killed with SIGKILL; a second worker takes the partition over and answers once."""
    env = _worker_env(app_config, fake_line_server[1])
    pg_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(pg_url) as blocker:
        blocker.execute("LOCK TABLE event_outcomes IN EXCLUSIVE MODE")
        first = _start_worker(env)
        try:
            assert line_user.post([line_user.text_event("ヘルプ")], drain=False).status_code == 200
            _wait_until(lambda: _waiting_on_lock(pg_url), timeout=30)
        finally:
            _kill(first)
        blocker.rollback()
    assert line_api.accepted("reply") == []
    second = _start_worker(env)
    try:
        assert line_api.wait_for(lambda r: r.accepted("reply", line_user.user_id), timeout=30)
        time.sleep(1.5)  # would a second answer come? (a bounded look, not a wait for something)
    finally:
        _stop(second)
    assert len(line_api.accepted("reply", line_user.user_id)) == 1
    assert line_api.accepted("push", line_user.user_id) == []
    assert _outcomes(app) == 1


def test_a_worker_killed_while_its_reply_was_on_the_wire_does_not_answer_twice(app, app_config, line_user,
                                                                              slow_line):
    """Killed after the commit, while LINE (slow) was taking the reply: the next worker tries the
    same reply token, LINE says it is used, and nothing more is sent."""
    recorder, url = slow_line
    recorder.settings["delay"] = 2.0
    line_user.api = recorder
    env = _worker_env(app_config, url)
    first = _start_worker(env)
    try:
        event = line_user.text_event("ヘルプ")
        recorder.reply_token_users[event["replyToken"]] = line_user.user_id
        assert line_user.post([event], drain=False).status_code == 200
        _wait_until(lambda: _outcomes(app) == 1, timeout=30)  # committed; the reply is under way
        time.sleep(0.3)
    finally:
        _kill(first)
    second = _start_worker(env)
    try:
        assert recorder.wait_for(lambda r: r.accepted("reply", line_user.user_id), timeout=30)
        _wait_until(lambda: _delivered(app), timeout=30)
    finally:
        _stop(second)
    assert len(recorder.accepted("reply", line_user.user_id)) == 1
    assert recorder.accepted("push", line_user.user_id) == []


def test_a_worker_started_while_redis_is_unreachable_says_so_and_waits(app_config, fake_line_server):
    env = dict(_worker_env(app_config, fake_line_server[1]), REDIS_URL="redis://bot:secret@127.0.0.1:1/0")
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        first_line = ""
        while "Redis" not in first_line:  # blocks until it says something about Redis
            first_line = process.stderr.readline().decode()
            assert first_line, "the worker ended without a word about Redis"
        assert process.poll() is None  # still there, waiting for Redis
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _out, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            _kill(process)
            _out, err = process.communicate()
    assert "cannot reach Redis at redis://127.0.0.1:1/0 (ConnectionError)" in first_line
    assert "Traceback" not in first_line + err.decode() and "secret" not in first_line + err.decode()


def _delivered(app) -> bool:
    with app.extensions["db"].begin() as session:
        row = session.scalars(select(EventOutcome)).first()
        return row is not None and row.delivered_at is not None


def _waiting_on_lock(pg_url: str) -> bool:
    with psycopg.connect(pg_url) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                 " AND datname = current_database()").fetchone()[0])


_wait_until = wait_until
