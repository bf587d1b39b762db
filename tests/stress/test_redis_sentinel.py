"""Redis Sentinel for real (issue 22, point 6): a master, a replica and a sentinel on this
machine; ``REDIS_URL=redis+sentinel://…`` for the web app and a real worker process.

The worker starts (it once died at start: RQ's connection refused the scheme). Mid-registration
the master is SIGKILLed; the sentinel promotes the replica, and within 30 seconds the bot answers
again where the conversation was, with an event queued before the failover answered too.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers_processes import RedisSentinelGroup, start_worker, stop, worker_env
from tests.helpers_registration import NUMBER, PHONE, seed_customer
from tests.line_driver import LineUser
from tests.stress.test_redis_restart import _say, _texts


@pytest.fixture
def sentinel_group(tmp_path):
    group = RedisSentinelGroup(tmp_path)
    group.start()
    yield group
    group.stop()


def test_the_master_killed_mid_conversation_the_bot_answers_again_after_the_failover(
        app, make_app, app_config, sentinel_group, fake_line_server, tmp_path):
    recorder, line_url = fake_line_server
    recorder.clear()
    bot = make_app(REDIS_URL=sentinel_group.url)
    seed_customer(bot)
    user = LineUser(bot.test_client(), recorder, bot)
    stderr_path = tmp_path / "worker.err"
    with open(stderr_path, "wb") as stderr:
        worker = start_worker(worker_env(app_config, line_url, REDIS_URL=sentinel_group.url), stderr=stderr)
        try:
            time.sleep(1)
            assert worker.poll() is None, stderr_path.read_text(errors="replace")  # it starts
            _say(user, "登録")
            _say(user, NUMBER)
            old_master = sentinel_group.kill_master()
            killed_at = time.monotonic()
            # LINE redelivers what we answer 503 to: post the next answer until it is queued.
            event = user.text_event(PHONE)
            before = len(recorder.messages(user.user_id))
            while True:
                status = user.post([dict(event, deliveryContext={"isRedelivery": True})], drain=False).status_code
                if status == 200:
                    break
                assert status == 503
                assert time.monotonic() - killed_at < 30, "no answer within 30 s of the master's death; sentinel:\n" \
                    + (tmp_path / "sentinel.log").read_text(errors="replace")[-3000:]
                time.sleep(0.5)
            assert recorder.wait_for(lambda r: len(r.messages(user.user_id)) > before, timeout=30)
            assert time.monotonic() - killed_at < 30
            assert sentinel_group.master_port() != old_master
            # The conversation resumed where it was: the phone was the answer awaited, the name is next.
            assert "お名前" in _texts(recorder.messages(user.user_id)[before:]) or \
                "カナ" in _texts(recorder.messages(user.user_id)[before:])
            assert "ご本人様の確認ができました" in _texts(_say(user, "アイコム タロウ"))
        finally:
            stop(worker)
    assert "Traceback" not in stderr_path.read_text(errors="replace").split("Process Scheduler:")[0]
