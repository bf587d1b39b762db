"""The emulator as a new user would try it with several processes: gunicorn (2 workers) and
`flask --app app worker` beside it, on PostgreSQL and Redis, in real Chromium.

The customer asks for a person, the escalation and their messages reach the staff pane, the
staff reply reaches the chat, 対応完了 hands the chat back to the bot, and the 仮登録 mail
(sent by the job worker, another process) shows in the mailbox.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from tests.conftest import empty_tables
from tests.emulator.test_emulator_browser import CHROMIUM, browser, page  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TIMEOUT_MS = 45_000


def wait_for_bot(page, before: int, expected: str) -> None:  # noqa: F811 - the fixture's name
    """Wait until a bot message newer than the first ``before`` rows contains ``expected``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "([n, text]) => Array.from(document.querySelectorAll('.row.bot')).slice(n)"
            ".some(row => row.textContent.includes(text))", arg=[before, expected], timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        raise AssertionError(f"no bot message with {expected!r}; the chat ends with:\n"
                             + page.get_by_test_id("chat-log").inner_text()[-600:]) from None


def say(page, text: str, expected: str) -> None:  # noqa: F811
    """Type ``text`` in the chat and send it with Enter; wait for a bot answer containing ``expected``."""
    before = page.locator(".row.bot").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")
    wait_for_bot(page, before, expected)


def tap_quick_reply(page, label: str, expected: str) -> None:  # noqa: F811
    before = page.locator(".row.bot").count()
    page.locator("#quick-replies .chip", has_text=label).click()
    wait_for_bot(page, before, expected)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    # A busy shared machine can take a minute to import the app in each worker.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _stop(*processes: subprocess.Popen) -> None:
    """SIGTERM them all at once (each shuts down warm, side by side), then wait; SIGKILL a laggard."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def multiprocess_emulator(database_url, redis_url, tmp_path):
    """gunicorn -w 2 and `flask worker`, sharing PostgreSQL and Redis, with the emulator on and no Slack."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_", "LINE_API"))}
    env.update({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "multiprocess-test-" + "k" * 32,
        "LINE_CHANNEL_SECRET": "demo-channel-secret", "LINE_CHANNEL_ACCESS_TOKEN": "demo-channel-access-token",
        "PUBLIC_BASE_URL": base, "EMULATOR": "1", "DEMO_DEFAULTS": "0", "JOBS_INLINE": "0",
        "PYTHONUNBUFFERED": "1",
    })
    setup = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": env["SECRET_KEY"],
                        "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "EMULATOR": False,
                        "SMTP_URL": "smtp://127.0.0.1:25"})
    with setup.extensions["db"].engine.begin() as conn:
        empty_tables(conn)
    setup.extensions["redis"].flushdb()
    result = setup.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    setup.extensions["db"].engine.dispose()
    setup.extensions["redis"].close()

    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "web.log", "w") as web_log, open(logs / "worker.log", "w") as worker_log:
        web = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "120",
                                "--no-control-socket",
                                "app:create_app()"], cwd=ROOT, env=env, stdout=web_log, stderr=subprocess.STDOUT)
        worker = subprocess.Popen([str(BIN / "flask"), "--app", "app", "worker"], cwd=ROOT, env=env,
                                  stdout=worker_log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base + "/emulator", web)
            yield base
        finally:
            _stop(worker, web)
            for name in ("web.log", "worker.log"):  # shown by pytest when the test fails
                sys.stdout.write(f"--- {name} (tail) ---\n" + (logs / name).read_text()[-3000:] + "\n")


def test_staff_pane_and_mailbox_under_gunicorn_with_a_job_worker(multiprocess_emulator, page):  # noqa: F811
    from bot.demo import DEMO_CUSTOMERS

    base = multiprocess_emulator
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base + "/emulator")
    wait_for_bot(page, 0, "ご用件をお選びください")  # the new user's follow: greeting and menu

    # Many messages in a row: every reply shows, whichever worker served the webhook or the API call.
    for _ in range(3):
        say(page, "ヘルプ", "ご用件をお選びください")

    # The customer asks for a person: the escalation reaches the staff pane.
    say(page, "オペレーター", "担当者におつなぎします")
    staff_log = page.get_by_test_id("staff-log")
    staff_log.locator(".staff-opened").wait_for()
    before = page.locator(".row.bot").count()
    page.get_by_test_id("chat-input").fill("ルーターのランプが赤いです")
    page.get_by_test_id("chat-input").press("Enter")
    staff_log.locator(".staff-customer", has_text="ルーターのランプが赤いです").wait_for()
    assert page.locator(".row.bot").count() == before  # the bot is silent while staff have the chat

    # The staff reply reaches the chat (a push, sent by the job worker).
    page.get_by_test_id("staff-input").fill("担当の佐藤です。再起動をお試しください。")
    page.get_by_test_id("staff-input").press("Enter")
    wait_for_bot(page, before, "担当の佐藤です")
    staff_log.locator(".staff-self", has_text="担当の佐藤です").wait_for()

    # 対応完了 hands the chat back: the customer is told, and the bot answers again.
    before = page.locator(".row.bot").count()
    page.get_by_test_id("staff-close").click()
    wait_for_bot(page, before, "担当者とのトークを終了しました")
    staff_log.locator(".staff-closed").wait_for()
    say(page, "ヘルプ", "ご用件をお選びください")

    # Registration: the 仮登録 mail, sent by the worker process, shows in the mailbox.
    customer = DEMO_CUSTOMERS[0]
    say(page, "登録", "お客様番号")
    say(page, customer.customer_number, "電話番号")
    say(page, customer.phone, "カナ")
    say(page, customer.name_kana, "アカウントID")
    say(page, "multi_taro", "メールアドレス")
    say(page, "multi@example.jp", "ニックネーム")
    say(page, "たろう", "アカウントID：multi_taro")
    tap_quick_reply(page, "仮登録する", "仮登録が完了しました")
    page.get_by_test_id("mailbox").locator(".mail", has_text="仮登録受付完了").wait_for()
    assert page.problems == []
