"""退会 on the web My Page: a password check, then nothing personal remains beyond the billing records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from bot import messages
from storage import retention
from storage.models import Account, Customer, LineLink, LinkToken, Statement
from tests.helpers_billing import csrf_from, login, seed_statement
from tests.helpers_registration import PASSWORD, link_path, post_password, provisional, seed_customer
from tests.line_driver import drain_jobs
from tests.servers import Mailbox


def _registered_and_linked(app, client, line_user, mailbox) -> int:
    """A customer registered through the chat and the 本登録 page (logged in, LINE linked), with a bill."""
    customer_id = seed_customer(app)
    seed_statement(app, customer_id, date.today().replace(day=1), [("ケーブルテレビ 基本料金", 3300)])
    provisional(line_user)
    drain_jobs(app)
    assert post_password(client, link_path(Mailbox.body(mailbox.wait(1)[0]))).status_code == 200
    drain_jobs(app)
    assert "3,300円" in line_user.says("今月の料金")  # issues a bill link token too
    return customer_id


def _count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_withdraw_erases_the_account_and_keeps_the_billing_records(app, client, line_user, line_api, mailbox):
    customer_id = _registered_and_linked(app, client, line_user, mailbox)
    redis = app.extensions["redis"]
    page = client.get("/mypage/withdraw")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "退会する" in html and "LINEとの連携を解除します" in html

    # A wrong password changes nothing.
    wrong = client.post("/mypage/withdraw", data={"csrf_token": csrf_from(html), "password": "Wrong2026pass"})
    assert wrong.status_code == 200 and "パスワードが正しくありません" in wrong.get_data(as_text=True)
    with app.extensions["db"].begin() as db:
        assert _count(db, Account) == 1

    done = client.post("/mypage/withdraw", data={"csrf_token": csrf_from(html), "password": PASSWORD})
    assert done.status_code == 200 and "退会が完了しました" in done.get_data(as_text=True)
    with app.extensions["db"].begin() as db:
        assert _count(db, Account) == 0
        assert _count(db, LineLink) == 0
        assert _count(db, LinkToken) == 0
        # The billing system's records stay.
        assert _count(db, Customer, Customer.id == customer_id) == 1
        assert _count(db, Statement, Statement.customer_id == customer_id) == 1
    # Nothing of the account is left in Redis: no web session, no conversation of the LINE user.
    assert list(redis.scan_iter("bot:web:session:*")) == []
    assert list(redis.scan_iter(f"bot:line:{line_user.user_id}:*")) == []
    # The LINE user is told by push, and is no longer linked.
    drain_jobs(app)
    assert any(messages.WITHDRAWN_PUSH == m.get("text") for m in line_api.messages(line_user.user_id))
    assert "登録" in line_user.says("今月の料金")
    # The old login no longer works; the session is gone.
    assert client.get("/mypage").status_code == 302
    failed = login(client, "aicom_taro")
    assert "アカウントIDまたはパスワードが正しくありません" in failed.get_data(as_text=True)


def test_withdraw_needs_a_login_and_the_csrf_token(app, client, line_user, mailbox):
    assert client.get("/mypage/withdraw").status_code == 302
    _registered_and_linked(app, client, line_user, mailbox)
    refused = client.post("/mypage/withdraw", data={"password": PASSWORD})
    assert refused.status_code == 400
    with app.extensions["db"].begin() as db:
        assert _count(db, Account) == 1


def test_other_modules_erase_their_own_data_on_withdraw(app, client, line_user, mailbox):
    seen = []

    @retention.on_withdraw
    def erase(session, account_id, line_user_id):
        seen.append((account_id, line_user_id))

    try:
        _registered_and_linked(app, client, line_user, mailbox)
        html = client.get("/mypage/withdraw").get_data(as_text=True)
        client.post("/mypage/withdraw", data={"csrf_token": csrf_from(html), "password": PASSWORD})
    finally:
        retention.ERASERS.remove(erase)
    assert len(seen) == 1 and seen[0][1] == line_user.user_id
