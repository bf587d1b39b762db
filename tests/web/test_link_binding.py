"""Issue 21.10: the LINE account link is bound to the browser that opened the chat's button.

The chat's 「ログインして連携」 carries only our start URL (``/link/start?t=<id>``); the first
browser to open it gets a cookie bound to the attempt, and only a login POST holding that
cookie completes a link. Without it, with a wrong one, once expired or spent, the customer
gets a polite page asking to start again from the chat, and nothing is linked. An account
linked to another LINE user is moved only after an explicit 「連携を移す」.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from storage import link_attempts
from storage.models import LineLink, LinkToken
from tests import log_guard
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    PASSWORD,
    app_config,
    clock,
    confirm_move,
    csrf_from,
    login,
    seed_customer_with_account,
    seed_link,
    seed_statement,
    start_link,
)
from tests.line_driver import drain_jobs

START_AGAIN = "LINEのトーク画面から、もう一度「ログインして連携」を押してください"
LINE_DIALOG = "https://access.line.me/dialog/bot/accountLink"


@pytest.fixture
def taro(app):
    """A web My Page customer (aicom_taro) with a bill, not linked to LINE."""
    seeded = seed_customer_with_account(app)
    seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 5280)])
    return seeded


def start_from_chat(line_user, line_api) -> tuple[str, str]:
    """The chat's 「ログインして連携」: (its start path, the link token LINE issued for it)."""
    card = line_user.say("ログインして連携")[0]
    url = urlsplit(card["contents"]["footer"]["contents"][0]["action"]["uri"])
    issued = line_api.accepted("link_token", line_user.user_id)[-1].body["linkToken"]
    log_guard.remember(issued)  # never logged
    return f"{url.path}?{url.query}", issued


def to_line(response) -> dict[str, str]:
    """The redirect to LINE's account-link dialog: its linkToken and nonce."""
    assert response.status_code == 302, response.status_code
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == LINE_DIALOG
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def link_ref(html: str) -> str:
    return re.search(r'name="link" value="([0-9a-f]{64})"', html).group(1)


def opened(client, start: str):
    """Open the start URL in this browser; the login page it leads to."""
    response = client.get(start)
    assert response.status_code == 303 and response.headers["Location"] == "/login?link=1"
    page = client.get("/login?link=1")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def post_login(client, html: str, ref: str | None = None, password: str = PASSWORD):
    return client.post("/login", data={"csrf_token": csrf_from(html), "account_id": "aicom_taro",
                                       "password": password, "link": ref or link_ref(html)})


def nonces(app) -> int:
    with app.extensions["db"].begin() as db:
        return db.scalar(select(func.count()).select_from(LinkToken).where(LinkToken.purpose == "line_link"))


def linked_to(app, account_id: int) -> str | None:
    with app.extensions["db"].begin() as db:
        return db.scalar(select(LineLink.line_user_id).where(LineLink.account_id == account_id))


def refused(response, status: int) -> None:
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert START_AGAIN in html and "LINEとの連携はまだ変更していません" in html
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("aicom_link=;") and "Expires=Thu, 01 Jan 1970" in cookie  # the cookie goes


def plant_cookie(client, value: str) -> None:
    client.set_cookie("aicom_link", value, domain="localhost", path="/")


# -- the happy path --------------------------------------------------------------------------------
def test_the_chat_button_opens_our_start_url_which_binds_this_browser(app, client, line_user, line_api, taro):
    line_api.profiles[line_user.user_id] = {"userId": line_user.user_id, "displayName": "こうか太郎",
                                            "language": "ja"}
    try:
        start, issued = start_from_chat(line_user, line_api)
    finally:
        line_api.profiles.pop(line_user.user_id)
    assert start.startswith("/link/start?t=") and issued not in start
    response = client.get(start)
    assert response.status_code == 303 and response.headers["Location"] == "/login?link=1"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("aicom_link=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=600" in cookie and "Path=/" in cookie and "Secure" not in cookie  # http here
    html = client.get("/login?link=1").get_data(as_text=True)
    assert issued not in html  # the link token never reaches the browser before LINE's dialog
    assert re.search(r'id="link-line-account">こうか太郎<', html)  # which LINE account will be linked

    answer = post_login(client, html)
    query = to_line(answer)
    assert query["linkToken"] == issued and len(query["nonce"]) >= 22  # >= 128 bits
    assert answer.headers["Set-Cookie"].startswith("aicom_link=;")  # spent: the cookie goes
    replies = line_user.send_event(line_user._event("accountLink", link={"result": "ok", "nonce": query["nonce"]}))
    assert "連携が完了しました" in replies[0]["text"]
    assert linked_to(app, taro.account_id) == line_user.user_id
    assert client.get("/mypage").status_code == 200  # and the customer is logged in


def test_the_cookie_is_secure_when_the_site_is_https(make_app):
    application = make_app(PUBLIC_BASE_URL="https://bot.example.jp")
    application.extensions["redis"].flushdb()
    start = start_link(application, "U" + "a" * 32)
    response = application.test_client().get(start, base_url="https://bot.example.jp")
    assert response.status_code == 303
    assert "; Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]


def test_a_second_tap_in_the_same_browser_shows_the_login_page_again(app, client, line_user, taro):
    start = start_link(app, line_user.user_id)
    first = opened(client, start)
    assert link_ref(opened(client, start)) == link_ref(first)
    to_line(post_login(client, first))


def test_without_a_display_name_a_masked_user_id_is_shown(app, client, line_user, line_api, taro):
    from handlers.emulator.line_api_recorder import Failure

    line_api.fail_next.append(Failure(404, "Not found", kind="profile"))
    start, _issued = start_from_chat(line_user, line_api)
    html = opened(client, start)
    user_id = line_user.user_id
    shown = re.search(r'id="link-line-account">(.*?)<', html).group(1)
    assert shown == f"表示名を確認できないLINEアカウント（ID {user_id[:5]}…{user_id[-4:]}）"
    assert user_id not in html


# -- refused: no cookie, a wrong one, another browser, expired, spent --------------------------------
def test_a_login_post_without_the_cookie_is_refused_and_links_nothing(app, client, line_user, taro):
    start = start_link(app, line_user.user_id)
    ref = link_ref(opened(client, start))
    other = app.test_client()  # another browser: the URL was forwarded, the form replayed
    form = other.get("/login").get_data(as_text=True)
    response = post_login(other, form, ref=ref)
    refused(response, 400)
    assert "別のブラウザで開いたURLや、共有されたURLからは続けられません" in response.get_data(as_text=True)
    assert nonces(app) == 0 and linked_to(app, taro.account_id) is None
    assert other.get("/mypage").status_code == 302  # nor logged in
    to_line(post_login(client, opened(client, start)))  # the browser that opened it still can


def test_a_login_post_with_a_wrong_cookie_is_refused(app, client, line_user, taro):
    start = start_link(app, line_user.user_id)
    ref = link_ref(opened(client, start))
    attempt_id = parse_qs(urlsplit(start).query)["t"][0]
    other = app.test_client()
    form = other.get("/login").get_data(as_text=True)
    plant_cookie(other, f"{attempt_id}.{'x' * 43}")  # knows the URL, guesses the browser secret
    refused(post_login(other, form, ref=ref), 410)
    plant_cookie(other, "garbage")
    refused(post_login(other, form, ref=ref), 400)
    assert nonces(app) == 0


def test_a_second_browser_opening_the_start_url_is_refused(app, client, line_user, taro):
    start = start_link(app, line_user.user_id)
    opened(client, start)
    other = app.test_client()
    response = other.get(start)
    refused(response, 400)
    assert "aicom_link=;" in response.headers["Set-Cookie"]
    refused(other.get("/login?link=1"), 400)


def test_the_form_of_an_older_attempt_is_refused(app, client, line_user, taro):
    older = link_ref(opened(client, start_link(app, line_user.user_id)))
    newer_page = opened(client, start_link(app, line_user.user_id))  # a second 「ログインして連携」
    refused(post_login(client, newer_page, ref=older), 400)
    assert nonces(app) == 0


def test_an_expired_attempt_gives_the_same_polite_page(app, client, line_user, taro, clock):
    start = start_link(app, line_user.user_id)
    html = opened(client, start)
    clock.advance(minutes=10, seconds=1)
    response = post_login(client, html)
    refused(response, 410)
    assert "有効期限（10分）が過ぎたか" in response.get_data(as_text=True)
    refused(client.get(start), 410)
    assert nonces(app) == 0 and linked_to(app, taro.account_id) is None


def test_an_attempt_is_single_use(app, client, line_user, taro):
    start = start_link(app, line_user.user_id)
    html = opened(client, start)
    cookie = client.get_cookie("aicom_link").value
    to_line(post_login(client, html))
    plant_cookie(client, cookie)  # the same browser posts again (back button, a replayed request)
    refused(post_login(client, client.get("/reminder/password").get_data(as_text=True), ref=link_ref(html)), 410)
    refused(client.get(start), 410)
    assert nonces(app) == 1


def test_a_wrong_password_keeps_the_attempt_for_another_try(app, client, line_user, taro):
    start = start_link(app, line_user.user_id)
    html = opened(client, start)
    again = post_login(client, html, password="Wrong-pass1")
    assert again.status_code == 200 and "アカウントIDまたはパスワードが正しくありません" in again.get_data(as_text=True)
    assert nonces(app) == 0
    to_line(post_login(client, again.get_data(as_text=True)))


def test_the_old_link_token_url_and_form_are_refused(app, client, taro):
    refused(client.get("/login?linkToken=abcDEF123_-x"), 400)
    form = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf_token": csrf_from(form), "account_id": "aicom_taro",
                                           "password": PASSWORD, "linkToken": "abcDEF123_-x"})
    refused(response, 400)
    assert nonces(app) == 0 and client.get("/mypage").status_code == 302


def test_a_plain_login_is_unchanged_even_with_a_link_cookie(app, client, line_user, taro):
    opened(client, start_link(app, line_user.user_id))
    response = login(client, "aicom_taro")  # the plain form: no link field
    assert response.status_code == 302 and response.headers["Location"] == "/mypage"
    assert nonces(app) == 0


def test_the_attempt_keeps_the_link_token_out_of_key_names(app, line_user, line_api, taro):
    start, issued = start_from_chat(line_user, line_api)
    keys = [k.decode() for k in app.extensions["redis"].scan_iter("bot:link:*")]
    assert len(keys) == 1 and re.fullmatch(r"bot:link:[0-9a-f]{64}", keys[0])
    assert issued not in keys[0] and line_user.user_id not in keys[0]
    assert parse_qs(urlsplit(start).query)["t"][0] not in keys[0]


def test_two_spends_of_one_attempt_give_it_to_one_only(app):
    client = app.extensions["redis"]
    attempt_id = link_attempts.create(client, "abcDEF123_-x", "U" + "b" * 32, None, 1000.0)
    secret = link_attempts.bind(client, link_attempts.find(client, attempt_id, 1000.0))
    assert link_attempts.bind(client, link_attempts.find(client, attempt_id, 1000.0)) is None  # one browser
    assert link_attempts.spend(client, attempt_id, "y" * 43, 1001.0) is None  # not that browser's
    assert link_attempts.spend(client, attempt_id, secret, 1001.0).link_token == "abcDEF123_-x"
    assert link_attempts.spend(client, attempt_id, secret, 1001.0) is None


# -- moving a link: asked first ----------------------------------------------------------------------
def test_moving_a_link_asks_first_and_cancelling_changes_nothing(app, client, line_api, make_line_user, taro):
    old, new = make_line_user(), make_line_user()
    seed_link(app, taro.account_id, old.user_id)
    html = opened(client, start_link(app, new.user_id, name="新しいスマホ"))
    answer = post_login(client, html)
    assert answer.status_code == 303 and answer.headers["Location"] == "/link/confirm"
    assert nonces(app) == 0  # nothing for LINE yet
    page = client.get("/link/confirm").get_data(as_text=True)
    assert "いま別のLINEアカウントと連携しています" in page and "新しいスマホ" in page
    assert "連携を移す" in page and "やめる" in page and old.user_id not in page

    cancelled = confirm_move(client, "cancel")
    assert cancelled.status_code == 200 and "LINEとの連携は変更していません" in cancelled.get_data(as_text=True)
    assert cancelled.headers["Set-Cookie"].startswith("aicom_link=;")
    assert linked_to(app, taro.account_id) == old.user_id and nonces(app) == 0
    drain_jobs(app)
    assert not line_api.accepted("push")  # nobody told anything: nothing changed
    refused(client.get("/link/confirm"), 400)  # spent with the cookie


def test_moving_a_link_after_the_confirm(app, client, line_api, make_line_user, taro):
    old, new = make_line_user(), make_line_user()
    seed_link(app, taro.account_id, old.user_id)
    start = start_link(app, new.user_id, link_token="NewPhoneToken123")
    assert post_login(client, opened(client, start)).headers["Location"] == "/link/confirm"
    query = to_line(confirm_move(client, "move"))
    assert query["linkToken"] == "NewPhoneToken123"
    replies = new.send_event(new._event("accountLink", link={"result": "ok", "nonce": query["nonce"]}))
    assert "連携が完了しました" in replies[0]["text"]
    assert linked_to(app, taro.account_id) == new.user_id
    refused(client.get(start), 410)  # spent


def test_the_confirm_step_needs_the_cookie_and_the_login(app, client, make_line_user, taro):
    old, new = make_line_user(), make_line_user()
    seed_link(app, taro.account_id, old.user_id)
    post_login(client, opened(client, start_link(app, new.user_id)))
    other = app.test_client()  # logged in as Taro too, but not the browser that opened the link
    login(other, "aicom_taro")
    refused(other.get("/link/confirm"), 400)
    refused(confirm_move_raw(other), 400)
    html = client.get("/link/confirm").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(html)})  # the linking browser logged out meanwhile
    refused(confirm_move_raw(client), 400)
    assert nonces(app) == 0 and linked_to(app, taro.account_id) == old.user_id


def test_moving_is_refused_when_the_password_changed_meanwhile(app, client, make_line_user, taro):
    from storage import logins
    from storage.models import Account

    old, new = make_line_user(), make_line_user()
    seed_link(app, taro.account_id, old.user_id)
    post_login(client, opened(client, start_link(app, new.user_id)))
    with app.extensions["db"].begin() as db:
        logins.change_password(db, db.get(Account, taro.account_id), "Another-pass9", app.config["CLOCK"]())
    refused(confirm_move_raw(client), 400)
    assert nonces(app) == 0 and linked_to(app, taro.account_id) == old.user_id


def confirm_move_raw(client):
    """Post 「連携を移す」 with a CSRF token from a form of this session (the confirm page may be gone)."""
    html = client.get("/reminder/password").get_data(as_text=True)
    return client.post("/link/confirm", data={"csrf_token": csrf_from(html), "decision": "move"})
