"""`連携解除`: a confirmation, then the LINE link is gone and the account stays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot import messages
from storage.models import Account, LineLink
from storage.security import hash_password
from tests.helpers_registration import TOKYO, quick_labels, seed_customer, verify


def _linked(app, line_user_id: str) -> int:
    customer_id = seed_customer(app)
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        account = Account(customer_id=customer_id, login_id="aicom_taro", login_id_key="aicom_taro",
                          email="taro@example.jp", nickname="たろう", password_hash=hash_password("Koka2026"),
                          status="active", session_version=1, created_at=now, activated_at=now)
        db.add(account)
        db.flush()
        db.add(LineLink(line_user_id=line_user_id, account_id=account.id, notices_enabled=True, linked_at=now))
        return account.id


def test_not_linked_says_so(app, chat_user):
    replies = chat_user.say("連携解除")
    assert replies[0]["text"] == messages.NOT_LINKED
    assert app.extensions["redis"].keys(f"bot:line:{chat_user.user_id}:*") == []


def test_unlink_after_confirmation(app, chat_user, db_session):
    account_id = _linked(app, chat_user.user_id)
    confirm = chat_user.say("連携解除")
    assert confirm[0]["text"] == messages.UNLINK_CONFIRM
    assert quick_labels(confirm[0]) == ["連携解除する", "キャンセル"]
    done = chat_user.say("連携解除する")
    assert done[0]["text"] == messages.UNLINKED
    assert db_session.scalars(select(LineLink)).all() == []
    assert db_session.get(Account, account_id).status == "active"  # the account itself stays
    assert chat_user.say("連携解除")[0]["text"] == messages.NOT_LINKED


def test_cancel_keeps_the_link(app, chat_user, db_session):
    _linked(app, chat_user.user_id)
    chat_user.say("連携解除")
    assert chat_user.say("キャンセル")[0]["text"] == messages.CANCELLED
    assert len(db_session.scalars(select(LineLink)).all()) == 1


def test_anything_else_asks_again_and_keeps_the_link(app, chat_user, db_session):
    _linked(app, chat_user.user_id)
    chat_user.say("連携解除")
    replies = chat_user.say("はい")
    assert replies[0]["text"] == messages.UNLINK_CHOOSE
    assert quick_labels(replies[0]) == ["連携解除する", "キャンセル"]
    assert len(db_session.scalars(select(LineLink)).all()) == 1
    assert chat_user.sticker()[0]["text"] == messages.NOT_TEXT_IN_FLOW
    assert chat_user.say("連携解除する")[0]["text"] == messages.UNLINKED


def test_after_unlinking_registering_again_offers_login(app, chat_user):
    _linked(app, chat_user.user_id)
    chat_user.say("連携解除")
    chat_user.say("連携解除する")
    replies = verify(chat_user)
    assert replies[0]["altText"] == messages.ALREADY_REGISTERED


def test_after_unlinking_linking_again_is_one_tap_away(app, chat_user):
    """UNLINKED names 「ログインして連携」, and offers it (issue 23: it sent people round through 今月の料金)."""
    _linked(app, chat_user.user_id)
    chat_user.say("連携解除")
    replies = chat_user.say("連携解除する")
    assert replies[-1]["text"] == messages.UNLINKED
    assert "「ログインして連携」" in replies[-1]["text"]
    assert messages.LOGIN_LINK_BUTTON in quick_labels(replies[-1])
