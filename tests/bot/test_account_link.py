"""LINE account link for web-registered customers: the chat's start URL -> web login -> nonce -> accountLink event.

Our own binding of the attempt to the browser (cookie, confirm step): tests/web/test_link_binding.py."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from storage.models import LineLink, LinkToken
from storage.security import hash_token
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    confirm_move,
    login,
    seed_customer_with_account,
    seed_statement,
    start_link,
)


@pytest.fixture
def web_customer(app):
    """Registered on the web My Page before the bot: an active account, no LINE link."""
    seeded = seed_customer_with_account(app)
    seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 5280)], payment_method="口座振替")
    return seeded


def login_link_from_chat(line_user) -> str:
    """The 「ログインして連携」 button's URL: our start URL, never LINE's link token."""
    replies = line_user.say("今月の料金")
    uri = replies[0]["contents"]["footer"]["contents"][0]["action"]["uri"]
    url = urlsplit(uri)
    assert url.path == "/link/start" and "linkToken" not in url.query
    return f"{url.path}?{url.query}"


def nonce_from_redirect(response) -> tuple[str, str]:
    assert response.status_code == 302
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://access.line.me/dialog/bot/accountLink"
    query = parse_qs(url.query)
    return query["linkToken"][0], query["nonce"][0]


def account_link_event(line_user, nonce: str, result: str = "ok"):
    return line_user.send_event(line_user._event("accountLink", link={"result": result, "nonce": nonce}))


def test_whole_account_link_journey(app, client, line_api, line_user, web_customer):
    login_path = login_link_from_chat(line_user)
    issued = line_api.accepted("link_token", line_user.user_id)[0].body["linkToken"]
    assert issued not in login_path
    page = client.get(login_path, follow_redirects=True)
    assert "LINEとマイページを連携します" in page.get_data(as_text=True)
    link_token, nonce = nonce_from_redirect(login(client, "aicom_taro", link=login_path))
    assert link_token == issued
    assert len(nonce) >= 22  # at least 128 bits
    replies = account_link_event(line_user, nonce)
    assert "連携が完了しました" in replies[0]["text"] and "今月の料金" in replies[0]["text"]
    with app.extensions["db"].begin() as db:
        link = db.scalar(select(LineLink).where(LineLink.line_user_id == line_user.user_id))
        assert link.account_id == web_customer.account_id
    card = line_user.say("今月の料金")[0]
    assert card["altText"] == "2026年11月のご請求金額は5,280円です"


def test_nonce_is_single_use(app, client, line_api, line_user, make_line_user, web_customer):
    start = login_link_from_chat(line_user)
    _token, nonce = nonce_from_redirect(login(client, "aicom_taro", link=start))
    assert "連携が完了しました" in account_link_event(line_user, nonce)[0]["text"]
    intruder = make_line_user()
    assert "連携を完了できませんでした" in account_link_event(intruder, nonce)[0]["text"]
    with app.extensions["db"].begin() as db:
        assert db.scalar(select(LineLink).where(LineLink.line_user_id == intruder.user_id)) is None


def test_nonce_is_stored_hashed_and_expires(app, client, line_user, web_customer, clock):
    _token, nonce = nonce_from_redirect(login(client, "aicom_taro", link=start_link(app, line_user.user_id)))
    with app.extensions["db"].begin() as db:
        stored = db.scalar(select(LinkToken).where(LinkToken.purpose == "line_link"))
        assert stored.token_hash == hash_token(nonce) and (stored.expires_at - stored.created_at).seconds == 600
    clock.advance(minutes=10, seconds=1)
    assert "連携を完了できませんでした" in account_link_event(line_user, nonce)[0]["text"]


def test_failed_result_or_unknown_nonce_is_polite(app, client, line_user, web_customer):
    _token, nonce = nonce_from_redirect(login(client, "aicom_taro", link=start_link(app, line_user.user_id)))
    assert "連携を完了できませんでした" in account_link_event(line_user, nonce, result="failed")[0]["text"]
    assert "連携を完了できませんでした" in account_link_event(line_user, "x" * 40)[0]["text"]
    with app.extensions["db"].begin() as db:
        assert db.scalars(select(LineLink)).all() == []


def test_wrong_password_with_a_link_attempt_links_nothing(app, client, line_user, web_customer):
    response = login(client, "aicom_taro", "Wrong-pass1", link=start_link(app, line_user.user_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "アカウントIDまたはパスワードが正しくありません" in html
    assert 'name="link" value="' in html and "abcDEF123_-x" not in html  # the attempt stays; no link token


def test_the_old_login_url_with_a_link_token_is_refused(client):
    response = client.get('/login?linkToken=<script>"')
    assert response.status_code == 400 and "<script>" not in response.get_data(as_text=True)
    assert "もう一度「ログインして連携」を押してください" in response.get_data(as_text=True)


def test_the_chat_never_asks_for_a_password(line_user, web_customer):
    texts = "\n".join(m.get("text") or m.get("altText", "") for m in line_user.say("今月の料金"))
    assert "パスワード" not in texts


def test_the_line_user_whose_link_moved_is_told_why(app, client, line_api, make_line_user, web_customer):
    """Issue 20: another LINE user links the same account; the first is told (by push), not left to find out."""
    from bot import messages
    from tests.helpers_billing import seed_link
    from tests.line_driver import drain_jobs

    old, new = make_line_user(), make_line_user()
    seed_link(app, web_customer.account_id, old.user_id)
    start = login_link_from_chat(new)
    assert login(client, "aicom_taro", link=start).headers["Location"] == "/link/confirm"  # asked first
    _token, nonce = nonce_from_redirect(confirm_move(client))
    assert "連携が完了しました" in account_link_event(new, nonce)[0]["text"]
    drain_jobs(app)
    (pushed,) = [m for c in line_api.accepted("push", old.user_id) for m in c.body["messages"]]
    assert pushed["text"] == messages.LINK_MOVED_PUSH
    assert "別のLINEでマイページとの連携が行われたため" in pushed["text"] and "0120-00-6560" in pushed["text"]
    assert [item["action"]["text"] for item in pushed["quickReply"]["items"]] == ["ログインして連携", "ヘルプ"]
    assert not [c for c in line_api.accepted("push", new.user_id)
                if "連携を解除しました" in str(c.body)]  # the new owner is not told they were unlinked
    assert "登録" in old.says("今月の料金")  # the old LINE user is no longer linked


def test_linking_again_from_the_same_line_user_tells_nobody(app, client, line_api, line_user, web_customer):
    from tests.helpers_billing import seed_link
    from tests.line_driver import drain_jobs

    seed_link(app, web_customer.account_id, line_user.user_id)
    _token, nonce = nonce_from_redirect(login(client, "aicom_taro", link=start_link(app, line_user.user_id)))
    assert "連携が完了しました" in account_link_event(line_user, nonce)[0]["text"]
    drain_jobs(app)
    assert not line_api.accepted("push")
