"""リマインダー: forgotten account ID and password reset (30 minutes, single use, revoking the rest)."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from storage.models import Account, LinkToken
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    PASSWORD,
    TOKYO,
    Clock,
    app_config,
    clock,
    csrf_from,
    login,
    post_form,
    seed_customer_with_account,
    seed_link,
    seed_statement,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

NEW_PASSWORD = "NewPass2027"


@pytest.fixture
def taro(app):
    seeded = seed_customer_with_account(app)
    seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 5280)])
    return seeded


def text_of(response) -> str:
    return response.get_data(as_text=True)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def request_reset(app, client, mailbox, login_or_email: str, expect_mail: bool = True) -> str | None:
    """Ask for a reset link; return its URL path+query from the mail (None when no mail came)."""
    before = len(mailbox.messages)
    page = post_form(client, "/reminder/password", login=login_or_email)
    assert page.status_code == 200 and "ご案内をお送りしました" in text_of(page)
    drain_jobs(app)
    messages = mailbox.wait(before + 1, timeout=2 if expect_mail else 0.3)
    if len(messages) == before:
        return None
    body = Mailbox.body(messages[-1])
    assert messages[-1]["Subject"] == "【あいコムこうかマイページ】パスワード再設定のご案内"
    url = urlsplit(re.search(r"http://localhost/reminder/password/reset\?t=\S+", body).group(0))
    return f"{url.path}?{url.query}"


def reset(client, link: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return post_form(client, link, "/reminder/password/reset", t=link.split("t=", 1)[1],
                     password=password, password_confirm=confirm if confirm is not None else password)


# -- account ID ------------------------------------------------------------------------------
def test_forgot_account_id_mails_it(app, client, mailbox, taro):
    page = post_form(client, "/reminder/account-id", email="TARO@example.jp")
    assert "ご案内をお送りしました" in text_of(page)
    drain_jobs(app)
    (mail,) = mailbox.wait(1)
    assert mail["To"] == "taro@example.jp"
    assert mail["Subject"] == "【あいコムこうかマイページ】アカウントIDのお知らせ"
    body = Mailbox.body(mail)
    assert "Aicom_Taro" in body and "0120-00-6560" in body and PASSWORD not in body
    assert "アイコム\u3000タロウ 様" in body  # the contract name, as the printed guide greets


def test_forgot_account_id_page_is_the_same_for_an_unknown_address(app, client, mailbox, taro):
    known = post_form(client, "/reminder/account-id", email="taro@example.jp")
    unknown = post_form(client, "/reminder/account-id", email="nobody@example.jp")
    assert known.status_code == unknown.status_code == 200
    assert without_csrf(text_of(known)) == without_csrf(text_of(unknown))
    drain_jobs(app)
    assert len(mailbox.wait(2, timeout=0.5)) == 1


def test_forgot_account_id_is_quietly_rate_limited(app, client, mailbox, taro):
    for _ in range(7):
        assert "ご案内をお送りしました" in text_of(post_form(client, "/reminder/account-id", email="taro@example.jp"))
    drain_jobs(app)
    assert len(mailbox.wait(7, timeout=0.5)) == 5


def test_reminder_pages_have_labels(client):
    assert '<label for="email">メールアドレス</label>' in text_of(client.get("/reminder/account-id"))
    assert '<label for="login">アカウントIDまたはメールアドレス</label>' in text_of(client.get("/reminder/password"))
    index = text_of(client.get("/reminder"))
    assert "/reminder/account-id" in index and "/reminder/password" in index


# -- password reset --------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["aicom_taro", "AICOM_TARO", "taro@example.jp", "Taro@Example.JP"])
def test_reset_link_by_account_id_or_mail(app, client, mailbox, taro, typed):
    assert request_reset(app, client, mailbox, typed)


def test_unknown_account_gets_the_same_page_and_no_mail(app, client, mailbox, taro):
    known = post_form(client, "/reminder/password", login="aicom_taro")
    unknown = post_form(client, "/reminder/password", login="nobody_here")
    assert without_csrf(text_of(known)) == without_csrf(text_of(unknown))
    drain_jobs(app)
    assert len(mailbox.wait(2, timeout=0.5)) == 1


def test_reset_sets_the_password_once(app, client, mailbox, taro):
    link = request_reset(app, client, mailbox, "aicom_taro")
    form = client.get(link)
    assert form.status_code == 200 and '<label for="password_confirm">' in text_of(form)
    assert client.get(link).status_code == 200  # GET spends nothing
    done = reset(client, link)
    assert done.status_code == 200 and "パスワードを再設定しました" in text_of(done)
    assert login(app.test_client(), "aicom_taro", PASSWORD).status_code == 200  # old one fails
    assert login(app.test_client(), "aicom_taro", NEW_PASSWORD).headers["Location"] == "/mypage"
    again = client.get(link)
    assert again.status_code == 410 and "すでに使われています" in text_of(again)
    with app.extensions["db"].begin() as db:
        account = db.get(Account, taro.account_id)
        assert account.password_hash.startswith("$argon2id$") and account.session_version == 2


def test_reset_post_without_the_form_token_is_refused(app, client, mailbox, taro):
    link = request_reset(app, client, mailbox, "aicom_taro")
    response = client.post("/reminder/password/reset", data={"t": link.split("t=", 1)[1], "password": NEW_PASSWORD,
                                                              "password_confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert client.get(link).status_code == 200


@pytest.mark.parametrize(("password", "confirm", "message"), [
    ("NewPass2027", "NewPass2028", "確認用のパスワードが一致しません"),
    ("short1A", None, "8文字以上"),
    ("NewPass2027NewPass", None, "16文字以内"),
    ("alllowercase", None, "2種類以上"),
    ("aicom_taro", None, "アカウントIDと同じ"),
    ("0748621234", None, "電話番号と同じ"),
    ("12345678", None, "お客様番号と同じ"),
])
def test_reset_applies_the_password_policy(app, client, mailbox, taro, password, confirm, message):
    link = request_reset(app, client, mailbox, "aicom_taro")
    page = reset(client, link, password, confirm)
    assert page.status_code == 200 and message in text_of(page)
    assert client.get(link).status_code == 200  # not spent


def test_reset_link_expires_after_thirty_minutes(app, client, mailbox, taro, clock):
    link = request_reset(app, client, mailbox, "aicom_taro")
    clock.advance(minutes=30, seconds=1)
    page = client.get(link)
    assert page.status_code == 410 and "有効期限" in text_of(page)
    clock.advance(minutes=-1)
    assert client.get(link).status_code == 200


def test_unknown_reset_link(client):
    page = client.get("/reminder/password/reset?t=not-a-real-token")
    assert page.status_code == 404 and "正しくありません" in text_of(page)


def test_reset_revokes_older_links_and_sessions(app, client, mailbox, taro, line_user):
    seed_link(app, taro.account_id, line_user.user_id)
    logged_in = app.test_client()
    login(logged_in, "aicom_taro")
    assert logged_in.get("/mypage").status_code == 200
    card = [m for m in line_user.say("今月の料金") if m["type"] == "flex"][0]
    bill_url = urlsplit(card["contents"]["footer"]["contents"][0]["action"]["uri"])
    first = request_reset(app, client, mailbox, "aicom_taro")
    second = request_reset(app, client, mailbox, "taro@example.jp")
    reset(client, second)
    assert "すでに使われています" in text_of(client.get(first))  # the older link is dead too
    assert logged_in.get("/mypage").status_code == 302  # the old session is over
    assert app.test_client().get(f"{bill_url.path}?{bill_url.query}").status_code == 302  # and the bill link
    with app.extensions["db"].begin() as db:
        live = db.scalars(select(LinkToken).where(LinkToken.account_id == taro.account_id,
                                                  LinkToken.used_at.is_(None))).all()
    assert live == []


def test_throttled_owner_can_still_use_the_reminder(app, client, mailbox, taro):
    for _ in range(5):
        login(client, "aicom_taro", "Wrong-pass1")
    assert login(client, "aicom_taro").status_code == 429
    link = request_reset(app, client, mailbox, "aicom_taro")
    assert "パスワードを再設定しました" in text_of(reset(client, link))
    assert login(app.test_client(), "aicom_taro", NEW_PASSWORD).headers["Location"] == "/mypage"


def test_reset_page_has_csrf_and_labels(app, client, mailbox, taro):
    link = request_reset(app, client, mailbox, "aicom_taro")
    html = text_of(client.get(link))
    assert csrf_from(html)
    assert '<label for="password">新しいパスワード</label>' in html


def test_reset_also_revokes_a_pending_line_link_nonce(app, client, mailbox, taro, clock):
    """A nonce handed out at a login before the reset (maybe the intruder's) links no LINE user afterwards."""
    from storage import logins

    with app.extensions["db"].begin() as db:
        nonce = logins.issue_line_link_nonce(db, db.get(Account, taro.account_id), clock())
    reset(client, request_reset(app, client, mailbox, "aicom_taro"))
    with app.extensions["db"].begin() as db:
        assert logins.spend_line_link_nonce(db, nonce, clock()) is None
