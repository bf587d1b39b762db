"""The whole registration journey end to end, and the 本登録 page's every refusal."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot import messages
from storage.models import Account, LineLink, LinkToken
from storage.security import verify_password
from tests.helpers_registration import (
    PASSWORD,
    TOKYO,
    accounts,
    csrf_from,
    execute,
    link_path,
    links,
    post_password,
    provisional,
    seed_customer,
    tokens,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox


def _registered_link(app, user, mailbox, **kwargs) -> str:
    """Chat to 仮登録, deliver the mail, return the 本登録 path from it."""
    seed_customer(app)
    provisional(user, **kwargs)
    drain_jobs(app)
    return link_path(Mailbox.body(mailbox.wait(1)[0]))


def test_whole_journey_chat_mail_page_link_push(app, client, line_user, line_api, mailbox, db_session):
    seed_customer(app)
    replies = provisional(line_user)
    assert "仮登録が完了しました" in replies[0]["text"]
    drain_jobs(app)
    mails = mailbox.wait(1)
    assert len(mails) == 1
    assert mails[0]["Subject"] == messages.REGISTRATION_MAIL_SUBJECT
    path = link_path(Mailbox.body(mails[0]))
    form = client.get(path)
    assert form.status_code == 200
    response = client.post(path, data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                       "password": PASSWORD, "password_confirm": PASSWORD})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "本登録が完了しました。" in html and "そのままログイン" in html
    # The LINE user is linked and told so by push, with what to try next.
    drain_jobs(app)
    pushes = line_api.accepted("push", line_user.user_id)
    assert len(pushes) == 1
    [message] = pushes[0].body["messages"]
    assert "登録が完了しました" in message["text"] and "今月の料金" in message["text"]
    assert "今月の料金" in [i["action"]["label"] for i in message["quickReply"]["items"]]
    account = db_session.scalar(select(Account))
    assert account.status == "active" and account.activated_at is not None and account.expires_at is None
    assert account.pending_line_user_id is None
    assert verify_password(account.password_hash, PASSWORD)
    assert account.password_hash.startswith("$argon2id$")
    link = db_session.scalar(select(LineLink))
    assert link.line_user_id == line_user.user_id and link.account_id == account.id
    [token] = tokens(db_session)
    assert token.used_at is not None
    # Now linked: the chat answers as to a linked customer.
    assert line_user.say("登録")[0]["text"] == messages.ALREADY_LINKED


def test_login_straight_away(app, client, line_user, mailbox):
    path = _registered_link(app, line_user, mailbox)
    html = post_password(client, path).get_data(as_text=True)
    assert 'href="/mypage"' in html
    assert client.get("/mypage").status_code == 200  # signed in by the 本登録 itself


def test_the_form_page(app, client, line_user, mailbox):
    path = _registered_link(app, line_user, mailbox, login_id="Aicom_Taro")
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert '<html lang="ja">' in html and 'name="viewport"' in html
    assert 'autocomplete="username"' in html and 'value="Aicom_Taro"' in html
    assert html.count('autocomplete="new-password"') == 2
    assert 'name="password"' in html and 'name="password_confirm"' in html
    assert "8〜16文字" in html and "2種類以上" in html
    assert "<script" not in html
    assert 'maxlength' not in html  # an over-long password is refused by the server, never cut by the browser


def test_get_does_not_spend_the_token(app, client, line_user, mailbox, db_session):
    path = _registered_link(app, line_user, mailbox)
    for _ in range(3):
        assert client.get(path).status_code == 200
    [token] = tokens(db_session)
    assert token.used_at is None
    assert db_session.scalar(select(Account)).status == "provisional"
    assert "本登録が完了しました。" in post_password(client, path).get_data(as_text=True)


def test_unknown_and_malformed_tokens(app, client, line_user, mailbox):
    path = _registered_link(app, line_user, mailbox)
    for bad in (path[:-1] + ("A" if path[-1] != "A" else "B"), "/register/complete/short",
                "/register/complete/" + "x" * 43):
        response = client.get(bad)
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert "URLが正しくありません" in html and "「登録」" in html
        assert client.post(bad, data={"password": PASSWORD, "password_confirm": PASSWORD}).status_code in (400, 404)


def test_used_token_says_so_and_changes_nothing(app, client, line_user, mailbox, db_session):
    path = _registered_link(app, line_user, mailbox)
    assert post_password(client, path).status_code == 200
    response = client.get(path)
    assert response.status_code == 410
    assert "本登録がすでに完了したか" in response.get_data(as_text=True)
    assert "csrf_token" not in response.get_data(as_text=True)  # no form to post again
    account = db_session.scalar(select(Account))
    assert verify_password(account.password_hash, PASSWORD)


def test_used_token_post_with_a_valid_csrf_token_is_refused(app, client, line_user, mailbox, db_session):
    """Two tabs: both opened the form; the second to post finds the link used."""
    path = _registered_link(app, line_user, mailbox)
    second_tab = app.test_client()
    csrf = csrf_from(second_tab.get(path).get_data(as_text=True))
    assert post_password(client, path).status_code == 200
    again = second_tab.post(path, data={"csrf_token": csrf, "password": "Another2026",
                                        "password_confirm": "Another2026"})
    assert again.status_code == 410 and "本登録がすでに完了したか" in again.get_data(as_text=True)
    assert verify_password(db_session.scalar(select(Account)).password_hash, PASSWORD)


def test_expired_token_says_so_and_frees_the_account_id(app, client, line_user, make_line_user, mailbox,
                                                        db_session):
    path = _registered_link(app, line_user, mailbox, login_id="aicom_taro")
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    past = datetime.now(TOKYO) - timedelta(seconds=1)
    execute(app, update(Account).values(expires_at=past), update(LinkToken).values(expires_at=past))
    response = client.get(path)
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "有効期限が切れています" in html and "「登録」" in html
    posted = client.post(path, data={"csrf_token": csrf, "password": PASSWORD, "password_confirm": PASSWORD})
    assert posted.status_code == 410
    assert db_session.scalar(select(Account)).status == "provisional"
    assert links(db_session) == []
    # Another customer may now take the ID.
    seed_customer(app, "777", "0748627777", "コウカ\u3000ハナコ")
    other = make_line_user()
    done = provisional(other, login_id="AICOM_TARO", number="777", phone="0748627777", kana="コウカ ハナコ")
    assert "仮登録が完了しました" in done[0]["text"]
    db_session.expire_all()
    assert [a.login_id for a in accounts(db_session)] == ["AICOM_TARO"]


def test_expired_by_the_account_alone_also_counts(app, client, line_user, mailbox, db_session):
    path = _registered_link(app, line_user, mailbox)
    execute(app, update(Account).values(expires_at=datetime.now(TOKYO) - timedelta(seconds=1)))
    assert client.get(path).status_code == 410


@pytest.mark.parametrize(("password", "confirm", "message"), [
    ("", "", messages.PASSWORD_EMPTY),
    ("Koka202", "Koka202", messages.PASSWORD_TOO_SHORT),
    ("Koka2026Koka2026K", "Koka2026Koka2026K", messages.PASSWORD_TOO_LONG),
    ("kokatarou", "kokatarou", messages.PASSWORD_KINDS),
    ("Koka 2026", "Koka 2026", messages.PASSWORD_CHARS),
    ("Koka2026あ", "Koka2026あ", messages.PASSWORD_CHARS),
    ("Aicom_Taro", "Aicom_Taro", messages.PASSWORD_SAME_AS_ACCOUNT_ID),
    ("AICOM_taro", "AICOM_taro", messages.PASSWORD_SAME_AS_ACCOUNT_ID),
    ("0748-62-1234", "0748-62-1234", messages.PASSWORD_SAME_AS_PHONE),
    ("0748621234", "0748621234", messages.PASSWORD_SAME_AS_PHONE),
    ("12345678", "12345678", messages.PASSWORD_SAME_AS_CUSTOMER_NUMBER),
    ("Koka2026", "Koka2027", messages.PASSWORD_MISMATCH),
    ("Koka2026", "", messages.PASSWORD_MISMATCH),
])
def test_password_policy_errors_re_render_the_form(app, client, line_user, mailbox, db_session, password, confirm,
                                                   message):
    path = _registered_link(app, line_user, mailbox, login_id="aicom_taro")
    response = post_password(client, path, password=password, confirm=confirm)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert "本登録が完了しました" not in html
    assert 'name="csrf_token"' in html and 'name="password"' in html
    [token] = tokens(db_session)
    assert token.used_at is None
    assert db_session.scalar(select(Account)).status == "provisional"
    assert links(db_session) == []
    # The same link still works with a good password.
    assert "本登録が完了しました。" in post_password(client, path).get_data(as_text=True)


def test_full_width_password_is_stored_in_its_nfkc_form(app, client, line_user, mailbox, db_session):
    path = _registered_link(app, line_user, mailbox)
    assert post_password(client, path, password="Ｋｏｋａ２０２６").status_code == 200
    assert verify_password(db_session.scalar(select(Account)).password_hash, "Koka2026")


def test_missing_csrf_token_is_400_and_changes_nothing(app, client, line_user, mailbox, db_session):
    path = _registered_link(app, line_user, mailbox)
    response = post_password(client, path, csrf=False)
    assert response.status_code == 400
    assert tokens(db_session)[0].used_at is None
    assert db_session.scalar(select(Account)).status == "provisional"
    wrong = client.post(path, data={"csrf_token": "forged", "password": PASSWORD, "password_confirm": PASSWORD})
    assert wrong.status_code == 400


def test_pages_say_nothing_about_customers(app, client, line_user, mailbox):
    """An unknown link's page is the same whatever customers exist; no customer data appears on any page."""
    path = _registered_link(app, line_user, mailbox)
    html = client.get(path).get_data(as_text=True)
    for personal in ("12345678", "0748621234", "アイコム", "taro@example.jp"):
        assert personal not in html
    unknown = client.get("/register/complete/" + "Z" * 43).get_data(as_text=True)
    app.extensions["db"].engine.dispose()
    assert "URLが正しくありません" in unknown


def test_push_after_registration_reaches_the_user_who_started_it(app, client, line_user, make_line_user, line_api,
                                                                 mailbox, db_session):
    path = _registered_link(app, line_user, mailbox)
    someone = make_line_user()
    someone.say("ヘルプ")
    post_password(client, path)
    drain_jobs(app)
    assert line_api.accepted("push", someone.user_id) == []
    assert len(line_api.accepted("push", line_user.user_id)) == 1


def test_logs_keep_no_secrets_or_personal_details(app, client, line_user, mailbox, caplog):
    caplog.set_level("DEBUG")
    path = _registered_link(app, line_user, mailbox)
    post_password(client, path)
    drain_jobs(app)
    # Everything the app and its libraries log (the test's own SMTP server logs its traffic: not ours).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    token = path.rsplit("/", 1)[1]
    for secret in (token, PASSWORD, "0748621234", "12345678", "taro@example.jp", "アイコム", "たろう"):
        assert secret not in logged, secret


def test_a_token_spent_by_another_transaction_meanwhile_is_not_spent_again(app, client, line_user, mailbox,
                                                                           db_session):
    """The spend itself is conditional (``used_at IS NULL``), not only the row lock: a reader that did not
    lock (SQLite ignores FOR UPDATE) must not overwrite the first tab's password."""
    from storage import accounts as account_repo
    from storage.security import hash_password

    path = _registered_link(app, line_user, mailbox)
    token = path.rsplit("/", 1)[1]
    with pytest.raises(account_repo.TokenSpent), app.extensions["db"].begin() as slow:
        stale = account_repo.find_register_token(slow, token)
        assert stale.account.status == "provisional"
        assert post_password(client, path).status_code == 200  # the other tab wins and commits
        account_repo.activate(slow, stale, hash_password("Another2026"), datetime.now(TOKYO))
    db_session.expire_all()
    assert verify_password(db_session.scalar(select(Account)).password_hash, PASSWORD)


def test_a_refused_password_is_marked_for_screen_readers(app, client, line_user, mailbox):
    path = _registered_link(app, line_user, mailbox)
    form = client.get(path).get_data(as_text=True)
    assert 'aria-invalid' not in form and 'action=""' not in form  # an empty action is not valid HTML
    html = post_password(client, path, password="short").get_data(as_text=True)
    assert 'id="password-errors"' in html
    assert 'aria-describedby="password-errors password-rules" aria-invalid="true"' in html


def test_registration_stands_when_the_push_cannot_be_queued(app, make_app, line_user, mailbox, db_session,
                                                            redis_url, line_api):
    """The 本登録 has committed: failing to queue the LINE push must not turn the page into an error."""
    from tests.helpers_registration import drop_redis_login, limited_redis_login

    path = _registered_link(app, line_user, mailbox)
    name, url = limited_redis_login(redis_url, "~bot:*")  # no ~rq:*: the job queue refuses
    try:
        no_queue = make_app(REDIS_URL=url)
        response = post_password(no_queue.test_client(), path)
    finally:
        drop_redis_login(redis_url, name)
    assert response.status_code == 200
    assert "本登録が完了しました。" in response.get_data(as_text=True)
    assert db_session.scalar(select(Account)).status == "active"
    assert [link.line_user_id for link in links(db_session)] == [line_user.user_id]
    # The queue refused, so the push was sent at once rather than lost.
    pushes = line_api.accepted("push", line_user.user_id)
    assert any("登録が完了しました" in m.get("text", "") for call in pushes for m in call.body["messages"])


def test_a_replaced_registration_link_never_works_and_only_the_latest_line_user_is_linked(
        app, client, line_user, make_line_user, line_api, mailbox, db_session):
    first_path = _registered_link(app, line_user, mailbox, login_id="first_taro", email="first@example.jp")
    csrf = csrf_from(client.get(first_path).get_data(as_text=True))
    other = make_line_user()
    provisional(other, login_id="second_taro", email="second@example.jp")
    drain_jobs(app)
    second_path = link_path(Mailbox.body(mailbox.wait(2)[1]))
    assert client.get(first_path).status_code == 404
    stale = client.post(first_path, data={"csrf_token": csrf, "password": PASSWORD, "password_confirm": PASSWORD})
    assert stale.status_code == 404
    assert "本登録が完了しました。" in post_password(client, second_path).get_data(as_text=True)
    drain_jobs(app)
    assert [link.line_user_id for link in links(db_session)] == [other.user_id]
    assert line_api.accepted("push", line_user.user_id) == []
