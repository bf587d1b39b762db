"""My Page under bad input and broken dependencies: never a 500, never the typed value in a log."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest

from tests.helpers_billing import (  # noqa: F401  (fixtures)
    TOKYO,
    Clock,
    app_config,
    clock,
    login,
    post_form,
    seed_customer_with_account,
    seed_statement,
)
from tests.line_driver import drain_jobs

FAILED = "アカウントIDまたはパスワードが正しくありません。"
UNAVAILABLE = "ただいまマイページをご利用いただけません"


@pytest.fixture
def taro(app):
    seeded = seed_customer_with_account(app)
    seeded.statement_id = seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 5280)])
    return seeded


def text_of(response) -> str:
    return response.get_data(as_text=True)


# -- control characters (PostgreSQL refuses NUL in text: it must not become a 500) ---------------
@pytest.mark.parametrize("typed", ["Aicom\x00Taro", "aicom_taro\x00", "\x00", "aicom\x1b_taro"])
def test_control_characters_in_the_account_id_are_a_plain_failed_login(client, taro, typed, caplog):
    caplog.set_level(logging.INFO)
    response = login(client, typed)
    assert response.status_code == 200 and FAILED in text_of(response)
    assert "\x00" not in text_of(response)
    assert "aicom" not in caplog.text.lower()


def test_control_characters_in_the_reminder_forms_change_nothing(app, client, mailbox, taro):
    page = post_form(client, "/reminder/account-id", email="taro\x00@example.jp")
    assert page.status_code == 200 and "正しく入力してください" in text_of(page)
    for typed in ("aicom_taro\x00", "taro@example.jp\x00", "taro\x00@example.jp"):
        page = post_form(client, "/reminder/password", login=typed)
        assert page.status_code == 200 and "ご案内をお送りしました" in text_of(page)
    drain_jobs(app)
    assert mailbox.wait(1, timeout=0.3) == []


# -- URL manipulation --------------------------------------------------------------------------
@pytest.mark.parametrize("statement_id", ["0", "2147483648", "99999999999999999999999"])
def test_an_absurd_statement_id_is_404_for_the_owner_and_login_for_a_stranger(app, client, taro, statement_id):
    assert app.test_client().get(f"/mypage/bills/{statement_id}").status_code == 302
    assert app.test_client().get(f"/mypage/bills/{statement_id}?t=abc").status_code == 302
    login(client, taro.login_id)
    assert client.get(f"/mypage/bills/{statement_id}").status_code == 404
    assert client.get(f"/mypage/bills/{statement_id}?t=abc").status_code == 303


@pytest.mark.parametrize("path", ["/logout", "/reminder/password/reset"])
def test_post_only_routes_answer_get_and_head_without_a_500(client, path):
    assert client.get(path).status_code in (404, 405)
    assert client.head(path).status_code in (404, 405)


# -- Redis down ----------------------------------------------------------------------------------
@pytest.fixture
def redis_down(make_app, app):
    """An app whose Redis does not answer (same database); exceptions become responses as in production."""
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    broken.config["PROPAGATE_EXCEPTIONS"] = False
    return broken


@pytest.mark.parametrize("path", ["/login", "/mypage", "/mypage/bills", "/mypage/bills/1", "/reminder",
                                  "/reminder/password", "/reminder/account-id"])
def test_redis_down_gives_a_polite_page_not_a_500(redis_down, path):
    response = redis_down.test_client().get(path)
    assert response.status_code == 503
    html = text_of(response)
    assert UNAVAILABLE in html and '<html lang="ja">' in html and "0120-00-6560" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.get("Retry-After")


def test_redis_down_login_post_is_the_same_polite_page_not_a_form_expiry(redis_down, taro):
    response = redis_down.test_client().post("/login", data={"account_id": "aicom_taro", "password": "x"})
    assert response.status_code == 503 and UNAVAILABLE in text_of(response)


def test_redis_down_leaves_healthz_and_the_webhook_to_their_own_answers(redis_down):
    client = redis_down.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "redis" in health.get_json()["failing"]
    assert client.post("/callback", data=b"{}", headers={"X-Line-Signature": "bad"}).status_code == 400


def test_redis_failing_while_the_session_is_saved_is_not_a_500(app, client, taro, monkeypatch):
    import redis

    client.get("/login")
    interface = app.session_interface

    def broken(*_args, **_kwargs):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(interface.redis, "set", broken)
    monkeypatch.setattr(interface.redis, "expire", broken)
    monkeypatch.setattr(interface.redis, "delete", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/login")
    assert response.status_code != 500


def test_a_database_error_on_a_page_is_a_polite_japanese_page(app, client, taro, make_app):
    login(client, taro.login_id)
    cookie = client.get_cookie("session").value
    broken = make_app(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    broken.config["PROPAGATE_EXCEPTIONS"] = False
    browser = broken.test_client()
    browser.set_cookie("session", cookie)
    for path in ("/mypage/bills", "/login"):
        response = browser.get(path)
        assert response.status_code == 503, path
        html = text_of(response)
        assert UNAVAILABLE in html and '<html lang="ja">' in html
        assert "OperationalError" not in html and "Traceback" not in html and "nowhere" not in html


# -- SQLite keeps no time zone: links must mean the same whatever zone the clock reports -----------
def test_links_on_sqlite_with_a_clock_in_utc(make_app, tmp_path):
    from datetime import UTC

    from storage import bills, logins
    from storage.models import Account, Statement

    utc_clock = Clock(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # 2026-12-01 08:30 in Tokyo
    sqlite_app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'links.db'}", CLOCK=utc_clock)
    assert sqlite_app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    seeded = seed_customer_with_account(sqlite_app)
    statement_id = seed_statement(sqlite_app, seeded.customer_id, date(2026, 12, 1), [("基本料金", 5280)])
    with sqlite_app.extensions["db"].begin() as db:
        account = db.get(Account, seeded.account_id)
        bill_token = bills.issue_bill_link(db, account, db.get(Statement, statement_id), utc_clock())
        reset_token = logins.issue_reset_link(db, account, utc_clock())
        nonce = logins.issue_line_link_nonce(db, account, utc_clock())
    utc_clock.advance(minutes=5)
    browser = sqlite_app.test_client()
    assert browser.get(f"/mypage/bills/{statement_id}?t={bill_token}").status_code == 303
    assert "5,280円" in text_of(browser.get(f"/mypage/bills/{statement_id}"))
    assert browser.get(f"/reminder/password/reset?t={reset_token}").status_code == 200
    with sqlite_app.extensions["db"].begin() as db:
        assert logins.spend_line_link_nonce(db, nonce, utc_clock()) is not None
    utc_clock.advance(minutes=26)  # 31 minutes: every one of them has expired
    assert browser.get(f"/reminder/password/reset?t={reset_token}").status_code == 410
    assert browser.get(f"/mypage/bills/{statement_id}").status_code == 302  # the grant ended with the link


# -- accessibility: the hints that explain a field are tied to it ----------------------------------
def test_field_hints_are_announced_with_their_fields(app, client, taro, clock):
    import re

    from storage import logins
    from storage.models import Account

    html = text_of(client.get("/login"))
    described = re.search(r'id="account_id"[^>]*aria-describedby="([^"]+)"', html, re.S).group(1).split()
    assert "account-id-hint" in described and 'id="account-id-hint"' in html
    with app.extensions["db"].begin() as db:
        token = logins.issue_reset_link(db, db.get(Account, taro.account_id), clock())
    html = text_of(client.get(f"/reminder/password/reset?t={token}"))
    described = re.search(r'id="password"[^>]*aria-describedby="([^"]+)"', html, re.S).group(1).split()
    assert described == ["password-rules"] and 'id="password-rules"' in html
