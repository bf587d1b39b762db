"""A gunicorn web worker SIGKILLed in the middle of a webhook request: LINE gets no answer and
redelivers; the event is answered once.

The webhook's write to Redis is held (``CLIENT PAUSE ... WRITE`` on our own redis-server), so the
request is in hand when the test kills the worker process; gunicorn's master starts a new
worker; LINE's redelivery (the same ``webhookEventId``) is queued, or recognised if the first
write went through after all, and the customer gets exactly one answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import redis

from tests.helpers_processes import ROOT, free_port, kill, stop, wait_until, worker_env
from tests.line_driver import BOT_USER_ID, LineUser, drain_events, sign


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return 0


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Line-Signature": sign(body)})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0  # the connection died with the worker


def test_a_web_worker_killed_mid_webhook_loses_and_doubles_nothing(app, make_app, app_config, own_redis,
                                                                   fake_line_server):
    recorder, line_url = fake_line_server
    recorder.clear()
    port = free_port()
    env = worker_env(app_config, line_url, REDIS_URL=own_redis.url, GUNICORN_BIND=f"127.0.0.1:{port}",
                     WEB_CONCURRENCY="1")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    bot = make_app(REDIS_URL=own_redis.url)
    user = LineUser(bot.test_client(), recorder, bot)
    event = user.text_event("ヘルプ")
    body = json.dumps({"destination": BOT_USER_ID, "events": [event]}, ensure_ascii=False).encode()
    try:
        wait_until(lambda: _get(base + "/healthz") == 200, timeout=60, interval=0.2)
        first_worker = _children(web.pid)
        assert len(first_worker) == 1
        admin = redis.Redis(port=own_redis.port)
        admin.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
        answers: list[int] = []
        request = threading.Thread(target=lambda: answers.append(_post(base + "/callback", body)))
        request.start()
        time.sleep(1.0)  # the request is in hand, waiting on Redis
        os.kill(first_worker[0], signal.SIGKILL)
        request.join(20)
        admin.execute_command("CLIENT", "UNPAUSE")
        assert answers and answers[0] not in (200,)  # LINE saw no 200: it will redeliver
        wait_until(lambda: _children(web.pid) and _children(web.pid) != first_worker and
                   _get(base + "/healthz") == 200, timeout=60, interval=0.2)
        redelivery = dict(event, deliveryContext={"isRedelivery": True})
        again = json.dumps({"destination": BOT_USER_ID, "events": [redelivery]}, ensure_ascii=False).encode()
        assert _post(base + "/callback", again) == 200
        assert _post(base + "/callback", again) == 200  # and once more: still one event
    finally:
        stop(web) if web.poll() is None else kill(web)
    assert drain_events(bot) == 1
    assert len(recorder.accepted("reply", user.user_id)) + len(recorder.accepted("push", user.user_id)) == 1
