"""Registration in the chat mid-flow: stickers, cancel, idling, restarts, other words and odd answers."""

from __future__ import annotations

import json
import time

import pytest
from rq import Queue

from bot import messages
from handlers.jobs import QUEUE_NAME
from storage.keys import conversation_key
from tests.bot.registration_steps import conversation_of, state_of
from tests.helpers_registration import (
    NUMBER,
    PHONE,
    accounts,
    seed_customer,
    texts,
    tokens,
    verify,
)


# -- mid-flow behaviour ------------------------------------------------------------------------
def test_sticker_mid_registration_changes_nothing(app, chat_user):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    before = conversation_of(app, chat_user)
    replies = chat_user.sticker()
    assert replies[0]["text"] == messages.NOT_TEXT_IN_FLOW
    assert "電話番号" in replies[1]["text"]
    after = conversation_of(app, chat_user)
    assert after["state"] == before["state"] and after["data"] == before["data"]
    assert "お名前" in chat_user.says(PHONE)


CANCEL_POINTS = [
    [],
    [NUMBER],
    [NUMBER, PHONE],
    [NUMBER, PHONE, "アイコム タロウ"],
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro"],
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp"],
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp", "たろう"],
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp", "たろう", "修正する"],
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp", "たろう", "修正する", "メールアドレス"],
]


@pytest.mark.parametrize("answers", CANCEL_POINTS, ids=[str(len(a)) for a in CANCEL_POINTS])
def test_cancel_at_every_step_leaves_nothing(app, chat_user, db_session, answers):
    seed_customer(app)
    chat_user.say("登録")
    for answer in answers:
        chat_user.say(answer)
    assert state_of(app, chat_user) is not None
    replies = chat_user.say("キャンセル")
    assert replies[0]["text"] == messages.CANCELLED
    assert state_of(app, chat_user) is None
    redis = app.extensions["redis"]
    assert redis.keys(f"bot:line:{chat_user.user_id}:*") == []
    assert accounts(db_session) == [] and tokens(db_session) == []
    assert Queue(QUEUE_NAME, connection=redis).count == 0  # no mail, no push: nothing was queued


def _idle_at_the_phone_question(app, chat_user, seconds: float) -> None:
    """The customer at the phone question, their last message ``seconds`` ago."""
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    redis = app.extensions["redis"]
    key = conversation_key("line", chat_user.user_id)
    conversation = json.loads(redis.get(key))
    conversation["updated_at"] = time.time() - seconds
    redis.set(key, json.dumps(conversation))


def test_idle_for_30_minutes_ends_the_registration(app, chat_user):
    _idle_at_the_phone_question(app, chat_user, 30 * 60 + 1)
    replies = chat_user.say(PHONE)
    assert replies[0]["text"] == messages.SESSION_EXPIRED
    assert state_of(app, chat_user) is None


def test_idle_for_29_minutes_goes_on(app, chat_user):
    _idle_at_the_phone_question(app, chat_user, 29 * 60)
    assert "お名前" in chat_user.says(PHONE)


@pytest.mark.parametrize("state_answers", [
    [NUMBER, PHONE, "アイコム タロウ"],  # at the account ID
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro"],  # at the mail address
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp"],  # at the nickname
    [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp", "たろう", "修正する"],  # choosing a fix
])
@pytest.mark.parametrize("word", ["登録", "最初からやり直す"])
def test_start_word_at_any_step_starts_again(app, chat_user, state_answers, word):
    """登録 typed mid-flow restarts everywhere (it never becomes a nickname or an "invalid ID")."""
    seed_customer(app)
    chat_user.say("登録")
    for answer in state_answers:
        chat_user.say(answer)
    replies = chat_user.say(word)
    assert replies[0]["text"] == messages.REGISTER_START
    assert state_of(app, chat_user) == "register:customer_number"
    assert conversation_of(app, chat_user)["data"] == {}


# -- words that leave the flow or are not answers ----------------------------------------------
@pytest.mark.parametrize("word", ["オペレーター", "オペレーターと話す", "問い合わせ"])
def test_an_operator_word_at_the_name_step_leaves_the_flow_for_a_person(app, chat_user, word):
    """INTERFACES.md: inside a flow only キャンセル, ヘルプ and オペレーター words leave it. They are
    katakana: taken as a name they were checked, counted as a mismatch and told 一致しません."""
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    replies = chat_user.say(word)
    assert messages.VERIFY_MISMATCH not in texts(replies) and messages.REGISTER_IN_PROGRESS not in texts(replies)
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []
    assert not (state_of(app, chat_user) or "").startswith("register:")
    assert "担当者におつなぎします" in texts(replies)  # handed over


@pytest.mark.parametrize("word", ["ヘルプ", "へるぷ", "メニュー"])
def test_help_mid_registration_leaves_the_flow_for_the_menu(app, chat_user, word):
    seed_customer(app)
    verify(chat_user)
    chat_user.say("aicom_taro")
    chat_user.say("taro@example.jp")
    replies = chat_user.say(word)
    assert "ニックネーム" not in texts(replies)
    assert state_of(app, chat_user) is None
    assert messages.MENU_UNLINKED in texts(replies)


def test_a_rich_menu_tap_mid_registration_is_not_an_answer(app, chat_user):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    replies = chat_user.say("よくある質問")
    assert replies[0]["text"] == messages.REGISTER_IN_PROGRESS
    assert state_of(app, chat_user) == "register:name_kana"
    assert "ご本人様の確認ができました" in chat_user.says("アイコム タロウ")  # the earlier answers were kept


STEP_ANSWERS = [NUMBER, PHONE, "アイコム タロウ", "aicom_taro", "taro@example.jp", "たろう"]


STEP_ITEMS = ["お客様番号", "電話番号", "お名前", "アカウントID", "メールアドレス", "ニックネーム"]


@pytest.mark.parametrize("step", range(6), ids=STEP_ITEMS)
@pytest.mark.parametrize("odd", ["1" * 5000, "ア" * 5000, "😀" * 30, "\u3000", "ｱｲｺﾑ\u200b"],
                         ids=["5000 digits", "5000 kana", "emoji", "blank", "zero-width"])
def test_odd_answers_at_every_step_re_ask_without_echoing(app, chat_user, step, odd):
    seed_customer(app)
    chat_user.say("登録")
    for answer in STEP_ANSWERS[:step]:
        chat_user.say(answer)
    before = state_of(app, chat_user)
    replies = chat_user.say(odd)
    assert all(len(m.get("text", "")) <= 5000 for m in replies)
    assert odd.strip() == "" or odd not in texts(replies)
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []  # never checked as a verification
    if state_of(app, chat_user) == before:
        assert STEP_ITEMS[step] in texts(replies)
    else:  # only a nickname may be odd-looking yet valid (emoji); it reaches the confirmation
        assert step == 5 and state_of(app, chat_user) == "register:confirm"


def test_a_postback_mid_registration_is_never_taken_as_an_answer(app, chat_user):
    """A rich-menu or old-button postback carries machine data ("action=bill"): as an account ID it was valid."""
    seed_customer(app)
    verify(chat_user)
    replies = chat_user.postback("action=bill&month=this")
    assert "アカウントID" in texts(replies)
    assert state_of(app, chat_user) == "register:account_id"
    assert "login_id" not in conversation_of(app, chat_user)["data"]
    chat_user.say("aicom_taro")
    chat_user.say("taro@example.jp")
    chat_user.postback("nickname-ish")
    assert state_of(app, chat_user) == "register:nickname"


def test_a_conversation_saved_by_the_previous_release_starts_again_without_a_mismatch(app, chat_user):
    """Deployed mid-registration: the old layout kept the number and phone; it is dropped, never counted."""
    seed_customer(app)
    old = {"state": "register:name_kana", "data": {"customer_number": NUMBER, "phone": PHONE},
           "updated_at": time.time()}
    app.extensions["redis"].set(conversation_key("line", chat_user.user_id), json.dumps(old))
    replies = chat_user.say("アイコム タロウ")
    assert replies[0]["text"] == messages.REGISTER_START
    assert conversation_of(app, chat_user)["data"] == {}
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []
