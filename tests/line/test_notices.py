"""Monthly bill notices (`notify-bills`) against the fake LINE and PostgreSQL: once each, skips,
re-runs, a killed run resumed, the quota, failures and retries, the chat words, the schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.flows.notices import bill_notice
from handlers.emulator import line_schema
from handlers.emulator.line_api_recorder import MONTHLY_LIMIT_MESSAGE, Failure
from handlers.line.render import render_bill_notice
from storage import notices as store
from storage.models import Account, Customer, LineLink, NoticeDelivery, Statement, StatementItem
from storage.timezone import TOKYO
from tests.conftest import SECRET_KEY
from tests.line_driver import ACCESS_TOKEN, CHANNEL_SECRET

MONTH = date(2026, 11, 1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(app_config):
    """Fast retries and short leases, so failures and resumed runs play out in seconds. A push's
    timeout is 1.5 s, and a push meant to time out is held 3 s (``SLOW_PUSH``): with half a second,
    an ordinary push to the fake LINE sometimes timed out on a loaded machine (a flaky test)."""
    return dict(app_config, NOTICE_RETRY_DELAYS="0.05,0.1,0.1", NOTICE_PUSH_TIMEOUT_SECONDS=1.5,
                NOTICE_LEASE_SECONDS=1, NOTICE_WAIT_SECONDS=20, NOTICE_BATCH_SIZE=4, NOTICE_CONCURRENCY=4)


SLOW_PUSH = Failure(None, delay=3.0, kind="push")  # LINE takes it, but after the push's timeout


def seed_linked(app, count: int, month: date = MONTH, start: int = 0, **link) -> list[str]:
    """``count`` customers with an active account, a LINE link and a statement for ``month``;
    returns their LINE user ids. One transaction, no password hashing."""
    now = datetime.now(TOKYO)
    users = []
    with app.extensions["db"].begin() as db:
        for n in range(start, start + count):
            customer = Customer(customer_number=f"{20_000_000 + n}", phone="0748621234", name_kana="アイコム　タロウ",
                                name=None, email=None, created_at=now, updated_at=now)
            customer.statements = [Statement(billing_month=month, due_date=date(2026, 12, 28),
                                             payment_method="口座振替", total=5280 + n, imported_at=now,
                                             items=[StatementItem(position=1, name="基本料金", amount=5280 + n)])]
            account = Account(customer=customer, login_id=f"user{n}", login_id_key=f"user{n}", email=f"u{n}@example.jp",
                              nickname="たろう", password_hash="x", status="active", session_version=1,
                              created_at=now, activated_at=now)
            user_id = f"U{n:032x}"
            account.line_link = LineLink(line_user_id=user_id, notices_enabled=link.get("notices_enabled", True),
                                         blocked_at=link.get("blocked_at"), linked_at=now)
            db.add(account)
            users.append(user_id)
    return users


def notify(runner, *args: str):
    return runner.invoke(args=["notify-bills", "--month", "2026-11", "--no-progress", *args])


def pushes(line_api, status: int | None = 200, user_id: str | None = None):
    return [c for c in line_api.calls if c.kind == "push" and (status is None or c.status == status)
            and (user_id is None or c.user_id == user_id)]


def delivered_once(line_api, users: list[str]) -> bool:
    accepted = pushes(line_api)
    return sorted(c.user_id for c in accepted) == sorted(users)


def rows(app) -> list[NoticeDelivery]:
    with app.extensions["db"].begin() as db:
        return list(db.scalars(select(NoticeDelivery).order_by(NoticeDelivery.id)))


# -- the happy path, skips, re-runs -------------------------------------------------------------
def test_each_linked_customer_gets_one_notice_and_the_rest_are_skipped_with_reasons(app, runner, line_api):
    users = seed_linked(app, 6)
    opted_out = seed_linked(app, 2, start=100, notices_enabled=False)
    blocked = seed_linked(app, 1, start=200, blocked_at=datetime.now(TOKYO))
    seed_linked(app, 1, month=date(2026, 10, 1), start=300)  # no statement for November

    result = notify(runner)

    assert result.exit_code == 0, result.output
    assert "sent 6, already sent 0, skipped 3 (blocked 1, opted out 2), failed 0" in result.output
    assert delivered_once(line_api, users)
    assert not any(pushes(line_api, None, u) for u in opted_out + blocked)
    body = pushes(line_api, 200, users[0])[0].body
    assert line_schema.validate("PushMessageRequest", body) == []
    message = body["messages"][0]
    assert message["altText"] == "2026年11月のご請求金額は5,280円です"
    button = message["contents"]["footer"]["contents"][0]["action"]
    assert button == {"type": "message", "label": "明細を見る", "text": "2026年11月の料金"}
    keys = {c.retry_key for c in pushes(line_api)}
    assert len(keys) == 6 and None not in keys
    assert {r.status for r in rows(app)} == {"sent", "skipped"}


def test_a_second_run_sends_nothing_twice(app, runner, line_api):
    users = seed_linked(app, 5)
    assert notify(runner).exit_code == 0
    again = notify(runner)
    assert again.exit_code == 0, again.output
    assert "sent 0, already sent 5" in again.output
    assert len(pushes(line_api, None)) == 5
    assert delivered_once(line_api, users)


def test_a_customer_who_opts_back_in_gets_the_notice_on_the_next_run(app, runner, line_api):
    users = seed_linked(app, 2, notices_enabled=False)
    assert "skipped 2 (opted out 2)" in notify(runner).output
    with app.extensions["db"].begin() as db:
        db.execute(update(LineLink).values(notices_enabled=True))
    assert "sent 2" in notify(runner).output
    assert delivered_once(line_api, users)


def test_dry_run_counts_and_sends_nothing(app, runner, line_api):
    seed_linked(app, 4)
    seed_linked(app, 1, start=100, notices_enabled=False)
    line_api.quota, line_api.quota_used = 1000, 250

    result = notify(runner, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would send 4, already sent 0, would skip 1 (opted out 1)" in result.output
    assert "quota: 1,000 messages this month, 250 used, 750 left; this run uses 4, leaving 746" in result.output
    assert pushes(line_api, None) == []
    assert rows(app) == []
    assert {c.kind for c in line_api.calls} == {"quota", "quota_consumption"}


def test_bill_notice_bubble_is_valid_without_a_due_date():
    message = render_bill_notice(bill_notice(MONTH, 12345, None))
    assert line_schema.validate("PushMessageRequest", {"to": "U" + "0" * 32, "messages": [message]}) == []
    assert message["altText"] == "2026年11月のご請求金額は12,345円です"


def test_a_bad_month_is_a_usage_error(runner):
    result = runner.invoke(args=["notify-bills", "--month", "2026-13"])
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


# -- the quota ----------------------------------------------------------------------------------
def test_with_whole_only_a_run_the_quota_cannot_finish_is_refused_and_says_so(app, runner, line_api):
    seed_linked(app, 5)
    line_api.quota, line_api.quota_used = 100, 97

    result = notify(runner, "--whole-only")

    assert result.exit_code == 1
    assert "5 notices to send but only 3 messages left" in result.output
    assert "nothing sent" in result.output
    assert pushes(line_api, None) == []


def test_a_run_the_quota_cannot_finish_says_so_sends_what_it_allows_and_a_later_run_completes(app, runner,
                                                                                              line_api):
    users = seed_linked(app, 5)
    line_api.quota, line_api.quota_used = 100, 97

    first = notify(runner)

    assert first.exit_code == 1, first.output
    assert "the quota cannot cover this run: sending 3 of 5" in first.output
    assert "sent 3" in first.output
    assert "quota is reached; 2 notices left to send" in first.output
    assert len(pushes(line_api)) == 3
    assert len(pushes(line_api, 429)) == 0  # our own budget stopped it before LINE had to
    line_api.quota = 200
    second = notify(runner)
    assert second.exit_code == 0, second.output
    assert "sent 2, already sent 3" in second.output
    assert delivered_once(line_api, users)


def test_line_monthly_limit_stops_the_run_within_a_few_refusals(app, runner, line_api):
    """LINE's consumption figure lags: the check passes, LINE then answers 429 "monthly limit"."""
    users = seed_linked(app, 15)
    line_api.quota, line_api.quota_used, line_api.consumption_lag = 20, 10, 10

    first = notify(runner)

    assert first.exit_code == 1, first.output
    assert "quota is reached; 5 notices left to send" in first.output
    assert len(pushes(line_api)) == 10
    refusals = pushes(line_api, 429)
    assert 1 <= len(refusals) <= 4  # the pushes already in flight, then nothing
    assert all(MONTHLY_LIMIT_MESSAGE in c.errors for c in refusals)
    line_api.quota, line_api.consumption_lag = 100, 0
    second = notify(runner)
    assert second.exit_code == 0, second.output
    assert "sent 5, already sent 10" in second.output
    assert delivered_once(line_api, users)


# -- failures ----------------------------------------------------------------------------------
def test_5xx_and_429_are_retried_and_delivered_once(app, runner, line_api):
    users = seed_linked(app, 6)
    line_api.fail_next.extend([Failure(500, kind="push"), Failure(503, kind="push"),
                               Failure(429, "Too many requests", kind="push")])

    result = notify(runner)

    assert result.exit_code == 0, result.output
    assert "sent 6" in result.output and "failed 0" in result.output
    assert delivered_once(line_api, users)
    assert app.extensions["redis"].get("bot:notices:slow") is not None  # the 429 slowed the run down


def test_a_timeout_after_line_accepted_the_push_is_a_409_not_a_second_message(app, runner, line_api):
    users = seed_linked(app, 3)
    line_api.fail_next.append(SLOW_PUSH)  # LINE takes it, we stop waiting

    result = notify(runner)

    assert result.exit_code == 0, result.output
    assert "sent 3" in result.output
    assert delivered_once(line_api, users)
    # The retry overtook the slow first attempt: whichever LINE saw second was answered 409.
    assert line_api.wait_for(lambda api: len(pushes(api, 409)) == 1, timeout=5)
    assert delivered_once(line_api, users)


def test_an_injected_409_counts_as_sent(app, runner, line_api):
    seed_linked(app, 2)
    line_api.fail_next.append(Failure(409, "The retry key is already accepted", kind="push"))
    result = notify(runner)
    assert "sent 2, already sent 0" in result.output
    assert [r.status for r in rows(app)] == ["sent", "sent"]


def test_what_keeps_failing_is_marked_failed_and_reported(app, runner, line_api):
    users = seed_linked(app, 4)
    line_api.fail_next.append(Failure(400, "The request body has 1 error(s)", kind="push", user_id=users[0]))
    line_api.fail_next.extend([Failure(500, kind="push", user_id=users[1])] * 4)  # every attempt of the schedule

    result = notify(runner)

    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    assert "failed 2 (http_400 1, http_500 1)" in result.output
    assert "kept for review" in result.output
    assert len(pushes(line_api)) == 2
    failed = [r for r in rows(app) if r.status == "failed"]
    assert sorted(r.attempts for r in failed) == [1, 4]
    again = notify(runner)  # failed rows are not resent
    assert "sent 0, already sent 2" in again.output and len(pushes(line_api)) == 2
    assert {c.user_id for c in pushes(line_api)} == set(users[2:])


def test_retry_failed_sends_the_failed_notices_again_once_and_the_dry_run_counts_them(app, runner, line_api):
    users = seed_linked(app, 3)
    line_api.fail_next.append(Failure(400, "The request body has 1 error(s)", kind="push", user_id=users[0]))
    line_api.fail_next.extend([Failure(500, kind="push", user_id=users[1])] * 4)
    assert "failed 2" in notify(runner).output and len(pushes(line_api)) == 1

    dry = notify(runner, "--retry-failed", "--dry-run")
    assert "would send 2, already sent 1" in dry.output and len(pushes(line_api)) == 1
    result = notify(runner, "--retry-failed")
    assert result.exit_code == 0, result.output
    assert "sent 2, already sent 1" in result.output and "failed 0" in result.output
    assert delivered_once(line_api, users)
    assert "sent 0, already sent 3" in notify(runner, "--retry-failed").output  # nothing left to retry
    assert delivered_once(line_api, users)


def test_retry_failed_within_a_day_of_an_accepted_push_is_a_409_not_a_second_message(app, runner, line_api):
    users = seed_linked(app, 1)
    line_api.fail_next.extend([SLOW_PUSH] + [Failure(500, kind="push")] * 3)
    notify(runner)  # LINE took the first push but answered too late; then failed the retries
    assert line_api.wait_for(lambda api: len(pushes(api)) == 1, timeout=5)
    assert [r.status for r in rows(app)] == ["failed"]
    result = notify(runner, "--retry-failed")
    assert "sent 1" in result.output
    assert [r.status for r in rows(app)] == ["sent"]
    assert len(line_api.messages(users[0])) == 1 and len(pushes(line_api, 409)) == 1  # the row's retry key


def test_a_retry_older_than_the_retry_key_is_not_sent_but_marked_for_review(app, runner, line_api):
    seed_linked(app, 2)
    with app.extensions["db"].begin() as db:
        store.plan_month(db, MONTH, datetime.now(TOKYO))
        first = db.scalars(select(NoticeDelivery).order_by(NoticeDelivery.id)).first()
        first.attempts, first.last_error = 1, "http_500"
        first.first_attempt_at = datetime.now(TOKYO) - timedelta(hours=25)

    result = notify(runner)

    assert "sent 1" in result.output
    assert "failed 1 (retry_window_expired 1)" in result.output
    assert len(pushes(line_api, None)) == 1


def test_a_bad_access_token_stops_the_run(app, runner, line_api):
    seed_linked(app, 3)
    line_api.fail_next.append(Failure(401, "Authentication failed", kind="push"))
    result = notify(runner)
    assert result.exit_code == 1
    assert "refused the access token" in result.output
    assert len(pushes(line_api, None)) <= 3


# -- a run killed half-way -----------------------------------------------------------------------
def test_a_killed_run_resumed_doubles_nothing(app, runner, line_api, database_url, redis_url, fake_line_server):
    users = seed_linked(app, 24)
    line_api.latency = 0.05
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET_KEY,
               LINE_CHANNEL_SECRET=CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN=ACCESS_TOKEN,
               LINE_API_BASE_URL=fake_line_server[1], EMULATOR="0", SMTP_URL=app.config["SMTP_URL"],
               NOTICE_RATE_PER_SECOND="20",
               NOTICE_LEASE_SECONDS="1", NOTICE_BATCH_SIZE="4", NOTICE_CONCURRENCY="2")
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "notify-bills", "--month", "2026-11",
                                "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        assert line_api.wait_for(lambda api: len(pushes(api)) >= 6, timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    sent_before = len(pushes(line_api))
    assert sent_before < len(users)

    result = notify(runner)

    assert result.exit_code == 0, result.output
    assert delivered_once(line_api, users)
    assert len(pushes(line_api, None)) <= len(users) + 4  # at most the pushes in flight when it died, as 409s
    assert {r.status for r in rows(app)} == {"sent"}


def test_make_run_setup_sqlite_and_jobs_in_process(make_app, line_api, tmp_path):
    """``make run``: SQLite, no Redis server, jobs on the web process's thread pool."""
    from alembic import command

    from storage.db import alembic_config

    url = f"sqlite:///{tmp_path / 'notices.db'}"
    command.upgrade(alembic_config(url), "heads")
    app = make_app(DATABASE_URL=url, REDIS_URL=None, JOBS_INLINE=True)
    users = seed_linked(app, 5)
    seed_linked(app, 1, start=100, notices_enabled=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notify-bills", "--month", "2026-11", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "sent 5, already sent 0, skipped 1 (opted out 1), failed 0" in result.output
    assert "sent 0, already sent 5" in runner.invoke(args=["notify-bills", "--month", "2026-11"]).output
    assert delivered_once(line_api, users)
    app.extensions["job_runner"].shutdown()

