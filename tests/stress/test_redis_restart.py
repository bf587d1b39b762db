"""Redis killed (SIGKILL) and restarted mid-conversation, on a redis-server of our own with AOF.

A real worker process (``flask --app app worker``) runs throughout. While Redis is down the
webhook answers 503 (LINE redelivers); the worker says so in a line and retries; once Redis
is back the redelivered message is answered, the conversation resumes where it was (AOF kept
it), and the registration completes once: one account, one mail. Events queued before the
crash are still there after it and are answered in order.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select

from storage.models import Account
from tests import log_guard
from tests.helpers_processes import start_worker, stop, worker_env
from tests.helpers_registration import NUMBER, PHONE, seed_customer
from tests.line_driver import LineUser


def _say(user: LineUser, text: str, timeout: float = 30) -> list[dict]:
    before = len(user.api.messages(user.user_id))
    assert user.post([user.text_event(text)], drain=False).status_code == 200
    assert user.api.wait_for(lambda r: len(r.messages(user.user_id)) > before, timeout=timeout), text
    return user.api.messages(user.user_id)[before:]


def _texts(replies: list[dict]) -> str:
    return "\n".join(m.get("text") or m.get("altText", "") for m in replies)


def test_redis_killed_mid_registration_then_back_the_conversation_resumes_and_completes_once(
        app, make_app, app_config, own_redis, fake_line_server, mailbox, tmp_path):
    recorder, line_url = fake_line_server
    recorder.clear()
    bot = make_app(REDIS_URL=own_redis.url)
    seed_customer(bot)
    user = LineUser(bot.test_client(), recorder, bot)
    stderr_path = tmp_path / "worker.err"
    with open(stderr_path, "wb") as stderr:
        worker = start_worker(worker_env(app_config, line_url, REDIS_URL=own_redis.url), stderr=stderr)
        try:
            _say(user, "登録")
            _say(user, NUMBER)
            _say(user, PHONE)
            assert "ご本人様の確認ができました" in _texts(_say(user, "アイコム タロウ"))
            _say(user, "aicom_surv1")
            own_redis.stop(hard=True)  # a crash: only what the AOF has survives
            event = user.text_event("surv1@example.jp")
            assert user.post([event], drain=False).status_code == 503  # LINE redelivers it
            page = bot.test_client().get("/login")
            assert page.status_code == 503 and "<html lang=\"ja\">" in page.get_data(as_text=True)
            time.sleep(3)  # the worker meets the outage
            assert worker.poll() is None  # and rides it out
            own_redis.start()
            before = len(recorder.messages(user.user_id))
            redelivery = dict(event, deliveryContext={"isRedelivery": True})
            assert user.post([redelivery], drain=False).status_code == 200
            assert recorder.wait_for(lambda r: len(r.messages(user.user_id)) > before, timeout=60)
            assert "ニックネーム" in _texts(recorder.messages(user.user_id)[before:])  # resumed at the next item
            _say(user, "さばいばる")
            assert "仮登録が完了しました" in _texts(_say(user, "仮登録する"))
            assert len(mailbox.wait(1, timeout=60)) == 1
            time.sleep(1.5)  # would a second mail or answer come? (a bounded look)
        finally:
            stop(worker)
    with bot.extensions["db"].begin() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1
    assert len(mailbox.messages) == 1
    err = stderr_path.read_text(errors="replace")
    outage_lines = [line for line in err.splitlines() if "unreachable" in line or "cannot reach" in line
                    or "lost Redis" in line]
    assert 1 <= len(outage_lines) <= 12, err  # a line per retry at most (RQ's backoff: 1, 2, 4 s)
    # RQ's scheduler is a child process that dies with the connection (multiprocessing prints
    # its traceback after "Process Scheduler:"; RQ starts a new one once Redis answers). That
    # block is RQ's, not ours: the limit is in the README. Nothing else may print a traceback.
    assert "Traceback" not in _without_rq_scheduler_deaths(err), err
    assert not log_guard.check_text(err, "worker stderr")


def test_events_queued_before_a_redis_crash_are_answered_after_it_in_order(
        app, make_app, app_config, own_redis, fake_line_server):
    recorder, line_url = fake_line_server
    recorder.clear()
    bot = make_app(REDIS_URL=own_redis.url)
    seed_customer(bot)
    user = LineUser(bot.test_client(), recorder, bot)
    events = [user.text_event(text) for text in ("登録", NUMBER, PHONE, "アイコム タロウ")]
    for event in events:
        assert user.post([event], drain=False).status_code == 200  # queued; no worker yet
    own_redis.stop(hard=True)
    own_redis.start()
    worker = start_worker(worker_env(app_config, line_url, REDIS_URL=own_redis.url))
    try:
        assert recorder.wait_for(lambda r: len(r.accepted("reply", user.user_id)) == 4, timeout=60)
    finally:
        stop(worker)
    replies = recorder.accepted("reply", user.user_id)
    assert [c.body["replyToken"] for c in replies] == [e["replyToken"] for e in events]
    assert "ご本人様の確認ができました" in replies[-1].body["messages"][0]["text"]


def _without_rq_scheduler_deaths(err: str) -> str:
    kept, skipping = [], False
    for line in err.splitlines():
        if line.startswith("Process Scheduler:"):
            skipping = True
        elif skipping and line[:2] == "20":  # the next timestamped log line
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)
