"""アカウント設定 (issue 20, point 2): password, mail address and nickname changes, with their errors.

Browser walks of the same pages are in ``test_settings_browser.py``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot import messages
from storage.models import Account, EmailChange, LinkToken
from storage.security import hash_token, verify_password
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    PASSWORD,
    app_config,
    clock,
    csrf_from,
    login,
    post_form,
    seed_customer_with_account,
    seed_link,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

NEW_PASSWORD = "Settings2027"
GREETING = "アイコム\u3000タロウ 様"


@pytest.fixture
def taro(app):
    return seed_customer_with_account(app)


@pytest.fixture
def signed_in(client, taro):
    assert login(client, "aicom_taro").status_code == 302
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def account(app) -> Account:
    with app.extensions["db"].begin() as db:
        found = db.scalars(select(Account)).one()
        db.expunge(found)
        return found


def mails(app, mailbox, count: int = 1):
    drain_jobs(app)
    return mailbox.wait(count)


def change_password(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return post_form(client, "/mypage/settings/password", current_password=current, password=new,
                     password_confirm=new if confirm is None else confirm)


def request_email(client, new_email="taro.new@example.com", current=PASSWORD):
    return post_form(client, "/mypage/settings/email", current_password=current, email=new_email)


def link_in(mail) -> str:
    url = urlsplit(re.search(r"http://localhost/mypage/settings/email/confirm\?t=\S+", Mailbox.body(mail)).group(0))
    return f"{url.path}?{url.query}"


def confirm(client, link: str):
    """Post the confirmation form of the link's page (the CSRF token from a page that always opens)."""
    token = csrf_from(text_of(client.get("/reminder/password")))
    return client.post("/mypage/settings/email/confirm", data={"csrf_token": token, "t": link.split("t=", 1)[1]})


# -- the menu and the settings page ------------------------------------------------------------------
def test_the_menu_links_to_the_settings(signed_in):
    menu = text_of(signed_in.get("/mypage"))
    assert 'href="/mypage/settings"' in menu and "アカウント設定" in menu
    page = text_of(signed_in.get("/mypage/settings"))
    assert "Aicom_Taro" in page and "taro@example.jp" in page and "たろう" in page
    for target in ("/mypage/settings/password", "/mypage/settings/email", "/mypage/settings/nickname"):
        assert f'href="{target}"' in page


@pytest.mark.parametrize("path", ["/mypage/settings", "/mypage/settings/password", "/mypage/settings/email",
                                  "/mypage/settings/nickname"])
def test_the_settings_ask_for_login(client, taro, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/mypage/settings/password", "/mypage/settings/email",
                                  "/mypage/settings/nickname"])
def test_a_post_without_login_asks_for_login_and_changes_nothing(app, client, taro, path):
    page = client.get("/login")
    response = client.post(path, data={"csrf_token": csrf_from(text_of(page)), "current_password": PASSWORD,
                                       "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD,
                                       "email": "x@example.com", "nickname": "じろう"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    after = account(app)
    assert after.email == "taro@example.jp" and after.nickname == "たろう"
    assert verify_password(after.password_hash, PASSWORD)


@pytest.mark.parametrize("path, fields", [
    ("/mypage/settings/password", {"current_password": PASSWORD, "password": NEW_PASSWORD,
                                   "password_confirm": NEW_PASSWORD}),
    ("/mypage/settings/email", {"current_password": PASSWORD, "email": "taro.new@example.com"}),
    ("/mypage/settings/nickname", {"nickname": "じろう"}),
])
def test_every_form_needs_its_csrf_token(app, signed_in, mailbox, path, fields):
    assert csrf_from(text_of(signed_in.get(path)))
    response = signed_in.post(path, data=fields)
    assert response.status_code == 400 and "もう一度お試しください" in text_of(response)
    after = account(app)
    assert after.email == "taro@example.jp" and after.nickname == "たろう"
    assert verify_password(after.password_hash, PASSWORD)
    assert mails(app, mailbox, 0) == []


# -- パスワード変更 ---------------------------------------------------------------------------------
def test_a_password_change_ends_the_other_sessions_and_tells_the_owner(app, signed_in, mailbox):
    other = app.test_client()
    login(other, "aicom_taro")
    assert other.get("/mypage").status_code == 200
    done = change_password(signed_in)
    assert done.status_code == 200 and "パスワードを変更しました" in text_of(done)
    assert other.get("/mypage").status_code == 302  # the other browser is signed out
    assert signed_in.get("/mypage").status_code == 200  # this one stays
    assert login(app.test_client(), "aicom_taro").status_code == 200  # the old password fails
    assert login(app.test_client(), "aicom_taro", NEW_PASSWORD).headers["Location"] == "/mypage"
    [mail] = mails(app, mailbox)
    assert mail["To"] == "taro@example.jp"
    assert mail["Subject"] == "【あいコムこうかマイページ】パスワード変更のお知らせ"
    body = Mailbox.body(mail)
    assert body.startswith(GREETING + "\n") and body.endswith(messages.MAIL_FOOTER)
    assert "2026年11月25日 10:00" in body and NEW_PASSWORD not in body and PASSWORD not in body


def test_a_password_change_gives_this_session_a_new_id(app, signed_in):
    before = signed_in.get_cookie("session").value
    change_password(signed_in)
    assert signed_in.get_cookie("session").value != before


def test_a_password_change_revokes_the_reset_links_and_a_pending_address_change(app, signed_in, mailbox, clock):
    from storage import logins

    with app.extensions["db"].begin() as db:
        logins.issue_reset_link(db, db.get(Account, account(app).id), clock())
    request_email(signed_in)
    link = link_in(mails(app, mailbox)[-1])
    change_password(signed_in)
    with app.extensions["db"].begin() as db:
        assert db.scalars(select(LinkToken).where(LinkToken.used_at.is_(None))).all() == []
    assert confirm(signed_in, link).status_code == 410
    assert account(app).email == "taro@example.jp"


@pytest.mark.parametrize("current, new, confirm_with, expected", [
    ("Wrong-pass1", NEW_PASSWORD, None, "現在のパスワードが正しくありません"),
    (PASSWORD, "short1A", None, messages.PASSWORD_TOO_SHORT),
    (PASSWORD, "abcdefghij", None, messages.PASSWORD_KINDS),
    (PASSWORD, "aicom_taro", None, messages.PASSWORD_SAME_AS_ACCOUNT_ID),
    (PASSWORD, "0748621234", None, messages.PASSWORD_SAME_AS_PHONE),
    (PASSWORD, "Ｓｅｔｔｉｎｇｓ２０２７あ", None, messages.PASSWORD_CHARS),
    (PASSWORD, NEW_PASSWORD, "Settings2028", "確認用のパスワードが一致しません"),
    (PASSWORD, PASSWORD, None, "現在のパスワードと同じです"),
])
def test_password_change_errors_change_nothing(app, signed_in, mailbox, current, new, confirm_with, expected):
    page = change_password(signed_in, current, new, confirm_with)
    assert page.status_code == 200 and expected in text_of(page)
    assert 'role="alert"' in text_of(page) and 'aria-invalid="true"' in text_of(page)
    assert verify_password(account(app).password_hash, PASSWORD)
    assert mails(app, mailbox, 0) == []


def test_wrong_current_passwords_are_throttled_like_logins(app, signed_in):
    for _ in range(5):
        change_password(signed_in, current="Wrong-pass1")
    refused = change_password(signed_in)  # even the right one, now
    assert refused.status_code == 429 and "しばらく変更できません" in text_of(refused)
    assert verify_password(account(app).password_hash, PASSWORD)
    assert login(app.test_client(), "aicom_taro").status_code == 429  # the login counts them too


# -- メールアドレス変更 -------------------------------------------------------------------------------
def test_an_address_change_takes_effect_only_when_the_link_is_posted(app, signed_in, mailbox):
    sent = request_email(signed_in, "Taro.New@Example.com")
    assert sent.status_code == 200 and "確認メールをお送りしました" in text_of(sent)
    [mail] = mails(app, mailbox)
    assert mail["To"] == "Taro.New@example.com"
    assert mail["Subject"] == "【あいコムこうかマイページ】メールアドレス変更のご確認"
    body = Mailbox.body(mail)
    assert body.startswith(GREETING + "\n") and body.endswith(messages.MAIL_FOOTER) and "24時間" in body
    link = link_in(mail)
    assert account(app).email == "taro@example.jp"  # not yet
    opened = app.test_client().get(link)  # on the phone, not signed in: a GET changes nothing
    assert opened.status_code == 200 and "Taro.New@example.com" in text_of(opened)
    assert account(app).email == "taro@example.jp"
    other = app.test_client()
    done = confirm(other, link)
    assert done.status_code == 200 and "メールアドレスを変更しました" in text_of(done)
    assert account(app).email == "Taro.New@example.com"
    notice = mails(app, mailbox, 2)[1]
    assert notice["To"] == "taro@example.jp"  # the old address is told
    assert notice["Subject"] == "【あいコムこうかマイページ】メールアドレス変更のお知らせ"
    notice_body = Mailbox.body(notice)
    assert notice_body.startswith(GREETING + "\n") and "T***@example.com" in notice_body
    assert notice_body.endswith(messages.MAIL_FOOTER)
    again = confirm(other, link)  # single use
    assert again.status_code == 410 and "すでに使われて" in text_of(again)
    assert app.test_client().get(link).status_code == 410


def test_the_change_link_is_random_and_stored_hashed(app, signed_in, mailbox):
    request_email(signed_in)
    token = link_in(mails(app, mailbox)[0]).split("t=", 1)[1]
    assert len(token) >= 22  # >= 128 bits in URL-safe base64 (it has 256)
    with app.extensions["db"].begin() as db:
        [change] = db.scalars(select(EmailChange)).all()
        assert change.token_hash == hash_token(token) and token not in change.token_hash
        assert (change.expires_at - change.created_at).total_seconds() == 24 * 3600


def test_an_expired_change_link_changes_nothing(app, signed_in, mailbox, clock):
    request_email(signed_in)
    link = link_in(mails(app, mailbox)[0])
    phone = app.test_client()
    assert phone.get(link).status_code == 200
    clock.advance(hours=24)  # the page was left open too long
    expired = confirm(phone, link)
    assert expired.status_code == 410 and "有効期限が切れています" in text_of(expired)
    assert phone.get(link).status_code == 410
    assert account(app).email == "taro@example.jp"


def test_an_unknown_change_link(client):
    assert client.get("/mypage/settings/email/confirm?t=not-a-real-token").status_code == 404
    page = client.get("/mypage/settings/email/confirm?t=x")
    assert page.status_code == 404 and "正しくありません" in text_of(page)


def test_the_confirmation_post_needs_its_csrf_token(app, signed_in, mailbox):
    request_email(signed_in)
    link = link_in(mails(app, mailbox)[0])
    response = signed_in.post("/mypage/settings/email/confirm", data={"t": link.split("t=", 1)[1]})
    assert response.status_code == 400
    assert account(app).email == "taro@example.jp"


def test_a_newer_request_voids_the_older_link(app, signed_in, mailbox):
    request_email(signed_in, "first@example.com")
    first = link_in(mails(app, mailbox)[0])
    request_email(signed_in, "second@example.com")
    second = link_in(mails(app, mailbox, 2)[1])
    assert confirm(signed_in, first).status_code == 410
    assert confirm(signed_in, second).status_code == 200
    assert account(app).email == "second@example.com"


@pytest.mark.parametrize("typed, current, expected", [
    ("taro@example.com", "Wrong-pass1", "現在のパスワードが正しくありません"),
    ("taro.example.com", PASSWORD, None),  # the validator's own message
    ("taro@example", PASSWORD, None),
    ("", PASSWORD, None),
    ("TARO@example.jp", PASSWORD, "現在と同じメールアドレスです"),
])
def test_address_change_errors_send_nothing(app, signed_in, mailbox, typed, current, expected):
    from bot import validators
    from bot.errors import InvalidInput

    if expected is None:
        with pytest.raises(InvalidInput) as refused:
            validators.email(typed)
        expected = refused.value.message
    page = request_email(signed_in, typed, current)
    assert page.status_code == 200 and expected in text_of(page)
    assert 'aria-invalid="true"' in text_of(page)
    assert mails(app, mailbox, 0) == []
    with app.extensions["db"].begin() as db:
        assert db.scalars(select(EmailChange)).all() == []


# -- ニックネーム変更 ---------------------------------------------------------------------------------
def test_a_nickname_change_is_saved_and_told(app, signed_in, mailbox):
    done = post_form(signed_in, "/mypage/settings/nickname", nickname="  じろう ")
    assert done.status_code == 200 and "ニックネームを「じろう」に変更しました" in text_of(done)
    assert account(app).nickname == "じろう"
    assert "じろう 様" in text_of(signed_in.get("/mypage"))
    [mail] = mails(app, mailbox)
    assert mail["To"] == "taro@example.jp"
    assert mail["Subject"] == "【あいコムこうかマイページ】ニックネーム変更のお知らせ"
    body = Mailbox.body(mail)
    assert body.startswith(GREETING + "\n") and "「じろう」" in body and body.endswith(messages.MAIL_FOOTER)


@pytest.mark.parametrize("typed, expected", [
    ("", messages.NICKNAME_LENGTH),
    ("あ" * 21, messages.NICKNAME_LENGTH),
    ("たろ\u202eう", messages.NICKNAME_CONTROL),
    ("たろう", "現在と同じニックネームです"),
])
def test_nickname_errors_change_nothing(app, signed_in, mailbox, typed, expected):
    page = post_form(signed_in, "/mypage/settings/nickname", nickname=typed)
    assert page.status_code == 200 and expected in text_of(page)
    assert account(app).nickname == "たろう"
    assert mails(app, mailbox, 0) == []


# -- throttling of changes ---------------------------------------------------------------------------
def test_changes_are_limited_per_hour(app, signed_in, mailbox, clock):
    for i in range(10):
        assert post_form(signed_in, "/mypage/settings/nickname", nickname=f"なまえ{i}").status_code == 200
    refused = post_form(signed_in, "/mypage/settings/nickname", nickname="もうひとつ")
    assert refused.status_code == 429 and "しばらく変更できません" in text_of(refused)
    assert request_email(signed_in).status_code == 429
    assert change_password(signed_in).status_code == 429
    assert account(app).nickname == "なまえ9"
    assert len(mails(app, mailbox, 10)) == 10


# -- what else goes with the account ------------------------------------------------------------------
def test_withdrawal_deletes_pending_address_changes(app, signed_in, mailbox):
    request_email(signed_in)
    link = link_in(mails(app, mailbox)[0])
    post_form(signed_in, "/mypage/withdraw", password=PASSWORD)
    with app.extensions["db"].begin() as db:
        assert db.scalars(select(EmailChange)).all() == []
    assert app.test_client().get(link).status_code == 404


def test_purge_removes_spent_address_changes(app, signed_in, mailbox, runner, clock):
    request_email(signed_in)
    confirm(signed_in, link_in(mails(app, mailbox)[0]))
    with app.extensions["db"].begin() as db:
        change = db.scalars(select(EmailChange)).one()
        change.used_at = change.used_at.replace(year=2020)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and "email_changes: removed 1" in result.output


# -- Redis down -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [
    ("get", "/mypage/settings"), ("get", "/mypage/settings/password"), ("post", "/mypage/settings/password"),
    ("post", "/mypage/settings/email"), ("get", "/mypage/settings/email/confirm?t=abc"),
    ("post", "/mypage/settings/email/confirm"), ("post", "/mypage/settings/nickname"),
])
def test_redis_down_gives_the_polite_page(make_app, app, method, path):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    broken.config["PROPAGATE_EXCEPTIONS"] = False
    response = getattr(broken.test_client(), method)(path)
    assert response.status_code == 503 and "ただいまマイページをご利用いただけません" in text_of(response)
