"""Registration in the chat: the dialogue, who may register, and the account's details.

The customer talks to the engine (``ChatUser``: no webhook, no fake LINE); mail goes through the real
SMTP server in the test process, state lives in PostgreSQL and Redis. Verification's limits, the
flow's interruptions, 仮登録 and its mail are in the ``test_registration_*.py`` modules beside this one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot import messages
from storage.models import Account
from tests.bot.registration_steps import active_account, conversation_of, state_of
from tests.helpers_registration import (
    NUMBER,
    PHONE,
    TOKYO,
    accounts,
    provisional,
    quick_labels,
    seed_customer,
    until_confirm,
    verify,
)


# -- the dialogue ------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["登録", "会員登録", "マイページ登録", "マイページ 登録", "登録。"])
def test_start_words_ask_for_the_customer_number(app, chat_user, word):
    replies = chat_user.say(word)
    assert len(replies) == 1
    assert "お客様番号" in replies[0]["text"]
    assert "先頭の0は省いて" in replies[0]["text"]
    assert "キャンセル" in quick_labels(replies[0])
    assert state_of(app, chat_user) == "register:customer_number"


def test_dialogue_reads_as_in_the_style_guide(app, chat_user):
    seed_customer(app)
    assert "マイページの登録を始めます" in chat_user.says("登録")
    assert "電話番号" in chat_user.says("１２３４５６７８")
    assert "お名前をカナで" in chat_user.says("0748-62-1234")
    reply = chat_user.says("あいこむ たろう")
    assert "ご本人様の確認ができました" in reply and "アカウントID" in reply
    assert "メールアドレス" in chat_user.says("aicom_taro")
    assert "ニックネーム" in chat_user.says("taro@example.jp")
    confirm = chat_user.say("たろう")
    assert len(confirm) == 1
    assert confirm[0]["text"] == messages.CONFIRM.format(account_id="aicom_taro", email="taro@example.jp",
                                                         nickname="たろう")
    assert quick_labels(confirm[0]) == ["仮登録する", "修正する", "キャンセル"]
    done = chat_user.say("仮登録する")
    assert "仮登録が完了しました" in done[0]["text"]
    assert "taro@example.jp" in done[0]["text"]
    assert "24時間以内" in done[0]["text"]
    assert quick_labels(done[0]) == ["メールを再送", "最初からやり直す"]
    assert state_of(app, chat_user) is None


@pytest.mark.parametrize(("number", "phone", "kana"), [
    ("012345678", "0748621234", "アイコム　タロウ"),  # leading 0 typed
    ("１２３４５６７８", "０７４８－６２－１２３４", "ｱｲｺﾑ ﾀﾛｳ"),
    ("12345678", "+81-748-62-1234", "あいこむたろう"),  # no space between the names
    ("1234-5678", "(0748)62-1234", "  アイコム   タロウ "),
])
def test_verification_accepts_real_world_forms(app, chat_user, number, phone, kana):
    seed_customer(app)
    replies = verify(chat_user, number, phone, kana)
    assert "ご本人様の確認ができました" in replies[-1]["text"]
    assert state_of(app, chat_user) == "register:account_id"


def test_personal_details_are_not_kept_in_the_conversation(app, chat_user):
    seed_customer(app)
    verify(chat_user)
    data = conversation_of(app, chat_user)["data"]
    assert PHONE not in json.dumps(data) and NUMBER not in json.dumps(data)
    assert "customer_id" in data


@pytest.mark.parametrize("answers", [[NUMBER], [NUMBER, PHONE]])
def test_number_and_phone_are_never_stored_in_the_conversation(app, chat_user, answers):
    """An abandoned registration keeps its conversation key for hours: it must not hold the number or phone."""
    seed_customer(app)
    chat_user.say("登録")
    for answer in answers:
        chat_user.say(answer)
    stored = json.dumps(conversation_of(app, chat_user)["data"])
    for personal in (NUMBER, NUMBER[-4:], PHONE, PHONE[-4:]):
        assert personal not in stored, stored
    if len(answers) == 2:
        assert "ご本人様の確認ができました" in chat_user.says("アイコム タロウ")


@pytest.mark.parametrize(("state_answers", "bad", "item"), [
    ([], "abc", "お客様番号"),
    (["12345678"], "12-34", "電話番号"),
    (["12345678", "0748621234"], "Aicom Taro", "お名前"),
])
def test_invalid_verification_answers_say_what_is_wrong_and_ask_again(app, chat_user, state_answers, bad, item):
    seed_customer(app)
    chat_user.say("登録")
    for answer in state_answers:
        chat_user.say(answer)
    before = state_of(app, chat_user)
    replies = chat_user.say(bad)
    assert item in replies[0]["text"]
    assert state_of(app, chat_user) == before


# -- who may register --------------------------------------------------------------------------
def test_a_linked_line_user_is_told_it_is_already_registered(app, chat_user):
    customer_id = seed_customer(app)
    active_account(app, customer_id, line_user_id=chat_user.user_id)
    replies = chat_user.say("登録")
    assert replies[0]["text"] == messages.ALREADY_LINKED
    assert state_of(app, chat_user) is None


def test_a_customer_with_an_active_account_is_offered_the_reminder_and_login(app, chat_user, line_api, db_session):
    customer_id = seed_customer(app)
    active_account(app, customer_id)
    replies = verify(chat_user)
    assert replies[0]["altText"] == messages.ALREADY_REGISTERED
    uris = [c["action"]["uri"] for c in replies[0]["contents"]["footer"]["contents"]]
    assert uris == ["http://localhost/reminder"]
    login_uri = replies[1]["contents"]["footer"]["contents"][0]["action"]["uri"]
    assert login_uri.startswith("http://localhost/link/start?t=")
    assert state_of(app, chat_user) is None
    assert len(accounts(db_session)) == 1


# -- the account's details ---------------------------------------------------------------------
def _provisional_account(app, customer_id: int, login_id: str, expires_in: timedelta) -> int:
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        account = Account(customer_id=customer_id, login_id=login_id, login_id_key=login_id.lower(),
                          email="other@example.jp", nickname="ほか", status="provisional",
                          pending_line_user_id="U" + "0" * 32, expires_at=now + expires_in, session_version=1,
                          created_at=now - timedelta(hours=1))
        db.add(account)
        db.flush()
        return account.id


def test_account_id_is_checked_at_once_ignoring_case(app, chat_user):
    seed_customer(app)
    other = seed_customer(app, "777", "0748627777", "コウカ\u3000ハナコ")
    active_account(app, other, login_id="Aicom_Taro")
    verify(chat_user)
    replies = chat_user.say("aicom_TARO")
    assert replies[0]["text"] == messages.ACCOUNT_ID_TAKEN
    assert "アカウントID" in replies[0]["text"]
    assert state_of(app, chat_user) == "register:account_id"
    assert "メールアドレス" in chat_user.says("aicom_taro2")


@pytest.mark.parametrize(("bad", "message"), [("abc", messages.ACCOUNT_ID_RULES),
                                             ("aicom taro", messages.ACCOUNT_ID_RULES),
                                             ("あいこむたろう", messages.ACCOUNT_ID_RULES)])
def test_invalid_account_id_asks_again(app, chat_user, bad, message):
    seed_customer(app)
    verify(chat_user)
    assert chat_user.say(bad)[0]["text"] == message
    assert state_of(app, chat_user) == "register:account_id"


def test_id_held_by_an_unexpired_provisional_registration_of_another_customer_is_taken(app, chat_user):
    seed_customer(app)
    other = seed_customer(app, "777", "0748627777", "コウカ\u3000ハナコ")
    _provisional_account(app, other, "Koka_Hanako", timedelta(hours=3))
    verify(chat_user)
    assert chat_user.say("koka_hanako")[0]["text"] == messages.ACCOUNT_ID_TAKEN


def test_an_expired_provisional_registration_frees_its_id(app, chat_user, db_session):
    seed_customer(app)
    other = seed_customer(app, "777", "0748627777", "コウカ\u3000ハナコ")
    expired_id = _provisional_account(app, other, "Koka_Hanako", timedelta(minutes=-1))
    replies = provisional(chat_user, login_id="koka_hanako")
    assert "仮登録が完了しました" in replies[0]["text"]
    rows = accounts(db_session)
    assert [a.login_id for a in rows] == ["koka_hanako"]
    assert expired_id not in [a.id for a in rows]


@pytest.mark.parametrize(("bad", "message"), [("taro", messages.EMAIL_NO_AT),
                                             ("taro@localhost", messages.EMAIL_DOMAIN_INCOMPLETE.format(
                                                 domain="localhost")),
                                             ("taro@example", messages.EMAIL_DOMAIN_INCOMPLETE.format(
                                                 domain="example")),
                                             ("taro@@example.jp", messages.EMAIL_TWO_AT),
                                             ("taro@gmail.co", messages.EMAIL_DOMAIN_TYPO.format(
                                                 domain="gmail.co", suggestion="gmail.com"))])
def test_invalid_mail_address_asks_again(app, chat_user, bad, message):
    seed_customer(app)
    verify(chat_user)
    chat_user.say("aicom_taro")
    replies = chat_user.say(bad)
    assert replies[0]["text"] == message and "メールアドレス" in replies[0]["text"]
    assert state_of(app, chat_user) == "register:email"


@pytest.mark.parametrize(("bad", "message"), [("あ" * 21, messages.NICKNAME_LENGTH),
                                             ("\u3000", messages.NICKNAME_LENGTH),
                                             ("た\nろう", messages.NICKNAME_CONTROL)])
def test_invalid_nickname_asks_again(app, chat_user, bad, message):
    seed_customer(app)
    verify(chat_user)
    chat_user.say("aicom_taro")
    chat_user.say("taro@example.jp")
    replies = chat_user.say(bad)
    assert replies[0]["text"] == message and "ニックネーム" in replies[0]["text"]
    assert state_of(app, chat_user) == "register:nickname"


def test_fixing_each_item_returns_to_the_confirmation(app, chat_user):
    seed_customer(app)
    until_confirm(chat_user)
    choose = chat_user.say("修正する")
    assert choose[0]["text"] == messages.CHOOSE_FIX
    assert quick_labels(choose[0]) == ["アカウントID", "メールアドレス", "ニックネーム", "キャンセル"]
    assert chat_user.say("どれでもない")[0]["text"] == messages.CHOOSE_FIX_AGAIN
    assert "メールアドレス" in chat_user.says("メールアドレス")
    assert chat_user.say("bad-address")[0]["text"] == messages.EMAIL_NO_AT
    confirm = chat_user.say("hanako@example.jp")
    assert "メールアドレス：hanako@example.jp" in confirm[0]["text"]
    assert "アカウントID：aicom_taro" in confirm[0]["text"]
    chat_user.say("修正する")
    chat_user.say("ニックネーム")
    assert "ニックネーム：はなこ" in chat_user.say("はなこ")[0]["text"]
    chat_user.say("修正する")
    chat_user.say("アカウントID")
    confirm = chat_user.say("Koka_Hanako")
    assert "アカウントID：Koka_Hanako" in confirm[0]["text"]
    assert quick_labels(confirm[0]) == ["仮登録する", "修正する", "キャンセル"]
    done = chat_user.say("仮登録する")
    assert "hanako@example.jp" in done[0]["text"]


def test_something_else_at_the_confirmation_asks_again(app, chat_user):
    seed_customer(app)
    until_confirm(chat_user)
    replies = chat_user.say("はい")
    assert replies[0]["text"] == messages.CONFIRM_CHOOSE
    assert quick_labels(replies[1]) == ["仮登録する", "修正する", "キャンセル"]
    assert state_of(app, chat_user) == "register:confirm"
