"""The web My Page: login, sessions, throttling, お客様メニュー, the bill list and the bill detail page."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from storage.keys import web_session_key
from storage.models import Account
from storage.security import needs_rehash, verify_password
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    PASSWORD,
    TOKYO,
    Clock,
    app_config,
    clock,
    csrf_from,
    login,
    seed_account,
    seed_customer,
    seed_customer_with_account,
    seed_link,
    seed_statement,
    session_cookie,
)

FAILED = "アカウントIDまたはパスワードが正しくありません。"
THROTTLED = "しばらくログインできません"


@pytest.fixture
def taro(app):
    """An active account with statements 2025-06 .. 2026-11 and one in 2020-06 (never shown)."""
    seeded = seed_customer_with_account(app)
    ids = {}
    for i in range(18):
        year, month = (2026, 11 - i) if i < 11 else (2025, 23 - i)
        ids[date(year, month, 1)] = seed_statement(
            app, seeded.customer_id, date(year, month, 1),
            [("ケーブルテレビ 基本料金", 3300), ("インターネット 光100M", 4400), ("セット割引", -500),
             (f"{month}月の工事費", 100 * month)],
            due_date=date(year, month, 27), payment_method="口座振替")
    ids[date(2020, 6, 1)] = seed_statement(app, seeded.customer_id, date(2020, 6, 1), [("基本料金", 3000)])
    seeded.statement_ids = ids
    return seeded


@pytest.fixture
def hanako(app):
    """Another customer, with their own November bill."""
    seeded = seed_customer_with_account(app, number="87654321", login_id="hanako99", email="hanako@example.jp",
                                        nickname="はなこ")
    seeded.statement_id = seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("ハナコの基本料金", 9999)])
    return seeded


def text_of(response) -> str:
    return response.get_data(as_text=True)


def error_paragraph(response) -> str:
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', text_of(response))
    return found.group(1) if found else ""


# -- login ------------------------------------------------------------------------------------
def test_login_page_is_accessible_and_carries_csrf(client):
    page = client.get("/login")
    html = text_of(page)
    assert page.status_code == 200
    assert '<label for="account_id">アカウントID</label>' in html
    assert '<label for="password">パスワード</label>' in html
    assert 'name="csrf_token"' in html and 'lang="ja"' in html and "viewport" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "/reminder" in html


def test_login_without_csrf_is_refused(client, taro):
    response = client.post("/login", data={"account_id": taro.login_id, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/mypage").status_code == 302


def test_login_then_menu(client, taro):
    response = login(client, taro.login_id)
    assert response.status_code == 302 and response.headers["Location"] == "/mypage"
    menu = client.get("/mypage")
    html = text_of(menu)
    assert menu.status_code == 200
    assert "たろう 様" in html and "お客様メニュー" in html and "ご利用料金の一覧" in html and "ログアウト" in html


@pytest.mark.parametrize("typed", ["aicom_taro", "AICOM_TARO", "Aicom_Taro", "ＡＩＣＯＭ＿ＴＡＲＯ", " aicom_taro "])
def test_account_id_in_any_letter_case(client, taro, typed):
    assert login(client, typed).headers.get("Location") == "/mypage"


def test_full_width_password_is_folded_like_at_registration(client, taro):
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in PASSWORD)
    assert login(client, taro.login_id, full_width).headers.get("Location") == "/mypage"


def test_wrong_password_unknown_id_and_inactive_account_get_the_same_answer(client, app, taro):
    provisional = seed_customer(app, number="555")
    seed_account(app, provisional, login_id="not_yet", status="provisional", email="p@example.jp")
    answers = [login(client, taro.login_id, "Wrong-pass1"), login(client, "nobody_here"),
               login(client, "not_yet"), login(client, taro.login_id, "")]
    assert {a.status_code for a in answers} == {200}
    assert {error_paragraph(a) for a in answers} == {FAILED}
    assert client.get("/mypage").status_code == 302


def test_login_rehashes_a_hash_made_with_older_parameters(client, app):
    old_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert needs_rehash(old_hash)
    customer = seed_customer(app)
    account_id = seed_account(app, customer, login_id="old_hash_user", password_hash=old_hash)
    assert login(client, "old_hash_user").status_code == 302
    with app.extensions["db"].begin() as db:
        new_hash = db.get(Account, account_id).password_hash
    assert new_hash != old_hash and not needs_rehash(new_hash) and verify_password(new_hash, PASSWORD)


def test_throttling_per_account(client, app, taro, hanako):
    for _ in range(5):
        assert error_paragraph(login(client, taro.login_id, "Wrong-pass1")) == FAILED
    refused = login(client, taro.login_id)  # even the right password waits now
    assert refused.status_code == 429 and THROTTLED in text_of(refused) and "/reminder" in text_of(refused)
    refused_other_case = login(client, taro.login_id.upper())
    assert refused_other_case.status_code == 429
    assert login(client, "hanako99").status_code == 302  # another account is not affected


def test_throttling_per_address(client, app, taro):
    for i in range(20):
        login(client, f"guess_{i}", "Wrong-pass1")
    assert login(client, taro.login_id).status_code == 429


def test_throttle_window_is_fifteen_minutes(client, app, taro):
    for _ in range(5):
        login(client, taro.login_id, "Wrong-pass1")
    keys = app.extensions["redis"].keys("bot:count:web_login_id:*")
    assert len(keys) == 1 and 0 < app.extensions["redis"].ttl(keys[0]) <= 15 * 60


def test_success_resets_the_account_counter(client, taro):
    for _ in range(4):
        login(client, taro.login_id, "Wrong-pass1")
    assert login(client, taro.login_id).status_code == 302
    client.post("/logout", data={"csrf_token": _csrf(client)})
    for _ in range(4):
        login(client, taro.login_id, "Wrong-pass1")
    assert login(client, taro.login_id).status_code == 302


def _csrf(client) -> str:
    return csrf_from(text_of(client.get("/mypage")))


# -- sessions ----------------------------------------------------------------------------------
def test_session_is_server_side_and_renewed_at_login(client, app, taro):
    client.get("/login")
    before = session_cookie(client)
    assert before and len(before) == 43  # a random id, no data in the cookie
    redis = app.extensions["redis"]
    assert len(redis.keys("bot:web:session:*")) == 1
    login(client, taro.login_id)
    after = session_cookie(client)
    assert after and after != before
    assert len(redis.keys("bot:web:session:*")) == 1  # the old one is gone
    assert 0 < redis.ttl(redis.keys("bot:web:session:*")[0]) <= 30 * 60
    # The pre-login id (fixation) opens nothing.
    other = app.test_client()
    other.set_cookie("session", before)
    assert other.get("/mypage").status_code == 302


def test_session_cookie_flags(client, taro):
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_on_https(make_app):
    https_app = make_app(PUBLIC_BASE_URL="https://mypage.example.jp")
    cookie = https_app.test_client().get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_session_key_is_not_the_cookie_value(client, app):
    client.get("/login")
    sid = session_cookie(client)
    assert not app.extensions["redis"].exists(web_session_key(sid))


def test_logout_deletes_the_session(client, app, taro):
    login(client, taro.login_id)
    sid = session_cookie(client)
    response = client.post("/logout", data={"csrf_token": _csrf(client)})
    assert response.status_code == 302 and "logged_out=1" in response.headers["Location"]
    assert app.extensions["redis"].keys("bot:web:session:*") == []
    assert client.get("/mypage").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", sid)
    assert replay.get("/mypage").status_code == 302
    assert "ログアウトしました" in text_of(client.get("/login?logged_out=1"))


def test_logout_needs_post_with_csrf(client, taro):
    login(client, taro.login_id)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/mypage").status_code == 200


def test_a_bumped_session_version_ends_the_session(client, app, taro):
    login(client, taro.login_id)
    assert client.get("/mypage").status_code == 200
    with app.extensions["db"].begin() as db:
        db.get(Account, taro.account_id).session_version += 1
    response = client.get("/mypage/bills")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(("next_path", "expected"), [
    ("/mypage/bills", "/mypage/bills"), ("https://evil.example/", "/mypage"), ("//evil.example/x", "/mypage"),
    ("/\\evil.example", "/mypage"), ("javascript:alert(1)", "/mypage"), ("mypage", "/mypage"),
])
def test_next_is_only_a_same_site_path(client, taro, next_path, expected):
    assert login(client, taro.login_id, next_path=next_path).headers["Location"] == expected


def test_pages_need_login(client):
    for path in ("/mypage", "/mypage/bills", "/mypage/bills/1"):
        response = client.get(path)
        assert response.status_code == 302
        assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == [path]


# -- bills on the web --------------------------------------------------------------------------
def test_bill_list_is_one_year_newest_first_with_details(client, taro):
    login(client, taro.login_id)
    html = text_of(client.get("/mypage/bills"))
    months = re.findall(r"<td>(\d{4}年\d{1,2}月)</td>", html)
    assert months[0] == "2026年11月" and months[-1] == "2025年12月" and len(months) == 12
    assert "2020年6月" not in html and "2025年11月" not in html
    assert html.count(">明細を見る</a>") == 12
    assert f'href="/mypage/bills/{taro.statement_ids[date(2026, 11, 1)]}"' in html
    assert "8,300円" in html  # 3300 + 4400 - 500 + 1100


def test_bill_list_stops_at_2020_07(client, app):
    seeded = seed_customer_with_account(app)
    for month in range(1, 13):
        seed_statement(app, seeded.customer_id, date(2020, month, 1), [("基本料金", 3000)])
    login(client, seeded.login_id)
    months = re.findall(r"<td>(\d{4}年\d{1,2}月)</td>", text_of(client.get("/mypage/bills")))
    assert months == [f"2020年{m}月" for m in range(12, 6, -1)]


def test_bill_detail_shows_every_item_to_the_yen(client, taro):
    login(client, taro.login_id)
    page = client.get(f"/mypage/bills/{taro.statement_ids[date(2026, 9, 1)]}")
    html = text_of(page)
    assert page.status_code == 200
    assert "2026年9月の明細" in html
    for name, amount in [("ケーブルテレビ 基本料金", "3,300円"), ("インターネット 光100M", "4,400円"),
                         ("セット割引", "\u2212500円"), ("9月の工事費", "900円")]:  # a true minus (issue 20)
        assert re.search(f"<td>{name}</td><td class=\"amount\">{amount}</td>", html)
    assert "8,100円" in html and "2026年9月27日" in html and "口座振替" in html
    assert "見本" not in html
    assert 'rel="stylesheet"' in html


def test_another_customers_statement_is_404_like_an_unknown_one(client, taro, hanako):
    login(client, taro.login_id)
    other = client.get(f"/mypage/bills/{hanako.statement_id}")
    unknown = client.get("/mypage/bills/999999")
    assert other.status_code == unknown.status_code == 404
    assert "ハナコ" not in text_of(other) and text_of(other) == text_of(unknown)


def test_statement_before_2020_07_is_404(client, taro):
    login(client, taro.login_id)
    assert client.get(f"/mypage/bills/{taro.statement_ids[date(2020, 6, 1)]}").status_code == 404


# -- the bearer link from the chat -------------------------------------------------------------
def card_url(line_user) -> str:
    for message in line_user.say("今月の料金"):
        if message["type"] == "flex" and "ご請求金額は" in message["altText"]:
            return message["contents"]["footer"]["contents"][0]["action"]["uri"]
    raise AssertionError("no bill card")


@pytest.fixture
def linked_taro(app, taro, line_user):
    seed_link(app, taro.account_id, line_user.user_id)
    return taro


def test_bearer_link_opens_without_login_and_strips_the_token(app, linked_taro, line_user):
    url = urlsplit(card_url(line_user))
    browser = app.test_client()
    first = browser.get(f"{url.path}?{url.query}")
    assert first.status_code == 303 and first.headers["Location"] == url.path
    page = browser.get(url.path)
    assert page.status_code == 200 and "2026年11月の明細" in text_of(page) and "8,300円" in text_of(page)
    assert "たろう 様" in text_of(page)
    assert browser.get("/mypage").status_code == 302  # the link is not a login


def test_bearer_link_is_reusable_for_fifteen_minutes(app, linked_taro, line_user, clock):
    url = urlsplit(card_url(line_user))
    clock.advance(minutes=14)
    for _ in range(2):
        browser = app.test_client()  # e.g. opened again from the chat in a new browser
        assert browser.get(f"{url.path}?{url.query}").status_code == 303
        assert browser.get(url.path).status_code == 200


def test_expired_link_asks_for_login_then_shows_the_bill(app, linked_taro, line_user, clock):
    url = urlsplit(card_url(line_user))
    clock.advance(minutes=15, seconds=1)
    browser = app.test_client()
    response = browser.get(f"{url.path}?{url.query}")
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next={url.path}"
    login_page = browser.get(response.headers["Location"])
    assert 'name="next" value="' + url.path + '"' in text_of(login_page)
    after = login(browser, linked_taro.login_id, next_path=url.path)
    assert after.headers["Location"] == url.path
    assert "2026年11月の明細" in text_of(browser.get(url.path))


def test_grant_ends_with_the_link(app, linked_taro, line_user, clock):
    url = urlsplit(card_url(line_user))
    browser = app.test_client()
    browser.get(f"{url.path}?{url.query}")
    assert browser.get(url.path).status_code == 200
    clock.advance(minutes=16)
    assert browser.get(url.path).status_code == 302


def test_tampered_link_asks_for_login(app, linked_taro, line_user):
    url = urlsplit(card_url(line_user))
    token = parse_qs(url.query)["t"][0]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    browser = app.test_client()
    response = browser.get(f"{url.path}?t={tampered}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert browser.get(url.path).status_code == 302


def test_token_for_another_statement_opens_nothing(app, linked_taro, line_user):
    url = urlsplit(card_url(line_user))
    token = parse_qs(url.query)["t"][0]
    october = linked_taro.statement_ids[date(2026, 10, 1)]
    browser = app.test_client()
    response = browser.get(f"/mypage/bills/{october}?t={token}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert browser.get(f"/mypage/bills/{october}").status_code == 302


def test_another_customers_statement_id_in_a_link_never_shows_their_bill(app, linked_taro, hanako, line_user):
    url = urlsplit(card_url(line_user))
    token = parse_qs(url.query)["t"][0]
    browser = app.test_client()
    response = browser.get(f"/mypage/bills/{hanako.statement_id}?t={token}")
    assert response.status_code == 302
    login(browser, linked_taro.login_id, next_path=f"/mypage/bills/{hanako.statement_id}")
    page = browser.get(f"/mypage/bills/{hanako.statement_id}")
    assert page.status_code == 404 and "ハナコ" not in text_of(page)


def test_link_of_an_account_no_longer_active_opens_nothing(app, linked_taro, line_user):
    url = urlsplit(card_url(line_user))
    with app.extensions["db"].begin() as db:
        db.get(Account, linked_taro.account_id).status = "provisional"
    response = app.test_client().get(f"{url.path}?{url.query}")
    assert response.status_code == 302


def test_logged_in_owner_with_a_dead_link_goes_straight_to_the_page(app, client, linked_taro, line_user, clock):
    url = urlsplit(card_url(line_user))
    clock.advance(hours=1)
    login(client, linked_taro.login_id)
    response = client.get(f"{url.path}?{url.query}")
    assert response.status_code == 303 and response.headers["Location"] == url.path
    assert client.get(url.path).status_code == 200


def test_only_hashes_of_links_are_stored(app, linked_taro, line_user):
    url = urlsplit(card_url(line_user))
    token = parse_qs(url.query)["t"][0]
    from storage.models import LinkToken

    with app.extensions["db"].begin() as db:
        stored = db.scalars(select(LinkToken.token_hash)).all()
    assert token not in stored and len(stored) == 1


def test_idle_sessions_expire_and_active_ones_are_renewed(client, app, taro):
    import time

    login(client, taro.login_id)
    redis = app.extensions["redis"]
    (key,) = redis.keys("bot:web:session:*")
    redis.expire(key, 100)
    assert client.get("/mypage").status_code == 200
    assert redis.ttl(key) > 29 * 60  # each request renews the idle timer
    redis.pexpire(key, 50)
    time.sleep(0.1)
    assert client.get("/mypage").status_code == 302


def test_a_request_racing_the_login_does_not_bring_the_old_session_back(app, client, taro):
    """A request that read the pre-login session before the login gave it a new id (the emulator's
    polling, a second tab) neither writes it back nor sends its id to the browser again: the
    browser keeps the logged-in session (a flaky browser test found it)."""
    from flask import request

    interface = app.session_interface
    client.get("/login")
    before = session_cookie(client)
    with app.test_request_context("/emulator", headers={"Cookie": f"session={before}"}):
        stale = interface.open_session(app, request)
        assert stale.sid == before
        login(client, taro.login_id)  # meanwhile, the login: a new id, the old one deleted
        assert session_cookie(client) != before
        response = app.response_class("polled")
        interface.save_session(app, stale, response)
        stale["seen"] = True  # nor is a change made to the stale session written
        interface.save_session(app, stale, response)
        assert "Set-Cookie" not in response.headers
    assert app.extensions["redis"].get(web_session_key(before)) is None
    assert client.get("/mypage").status_code == 200
