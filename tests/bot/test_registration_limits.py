"""Registration in the chat: verification mismatches, the limits on them, and counters Redis refuses."""

from __future__ import annotations

import time

import pytest

from bot import messages
from bot.flows import registration
from storage.keys import block_key, counter_key
from tests.bot.registration_steps import (
    counters_forbidden_url,  # noqa: F401 - fixtures
    counters_read_only_url,  # noqa: F401 - fixtures
    state_of,
)
from tests.chat_driver import ChatUser
from tests.conftest import SECRET_KEY
from tests.helpers_registration import (
    NUMBER,
    PHONE,
    quick_labels,
    seed_customer,
    texts,
    verify,
)

OPERATOR_LABEL = messages.QR_OPERATOR


# -- mismatch and limits -----------------------------------------------------------------------
@pytest.mark.parametrize(("number", "phone", "kana"), [
    ("99999999", PHONE, "アイコム タロウ"),  # no such customer
    (NUMBER, "0748629999", "アイコム タロウ"),  # wrong phone
    (NUMBER, PHONE, "アイコム ハナコ"),  # wrong name
    (NUMBER, "0748629999", "アイコム ハナコ"),
])
def test_mismatch_is_the_exact_sentence_and_never_says_which(app, chat_user, number, phone, kana):
    seed_customer(app)
    replies = verify(chat_user, number, phone, kana)
    assert replies[0]["text"] == messages.VERIFY_MISMATCH
    assert replies[0]["text"] == "入力された内容が契約者情報と一致しません。もう一度お手元の登録書をご確認ください。"
    assert "お客様番号からもう一度" in replies[1]["text"]
    assert "電話番号" not in texts(replies) and "お名前" not in texts(replies)
    assert state_of(app, chat_user) == "register:customer_number"
    # ... and the flow goes on from the customer number.
    assert "電話番号" in chat_user.says(NUMBER)


def _mismatch(user, number=NUMBER) -> list[dict]:
    return verify(user, number, PHONE, "マチガイ タロウ")


def test_five_mismatches_in_15_minutes_block_the_line_user_for_30_minutes(app, chat_user, make_chat_user):
    seed_customer(app)
    for _ in range(4):
        assert _mismatch(chat_user)[0]["text"] == messages.VERIFY_MISMATCH
    fifth = _mismatch(chat_user)
    assert fifth[0]["text"] == messages.VERIFY_MISMATCH
    refusal = fifth[1]
    assert "0120-00-6560" in refusal["text"] and "9:00〜17:00" in refusal["text"]
    assert OPERATOR_LABEL in quick_labels(refusal)
    assert state_of(app, chat_user) is None
    redis = app.extensions["redis"]
    assert 1790 <= redis.ttl(block_key(registration.USER_MISMATCH, chat_user.user_id)) <= 1800
    # Refused even with the right answers, from the very start.
    again = chat_user.say("登録")
    assert again[0]["text"] == messages.VERIFY_LIMITED_USER
    assert "0120-00-6560" in again[0]["text"]
    assert state_of(app, chat_user) is None
    # Another LINE user is not affected.
    other = make_chat_user()
    assert "ご本人様の確認ができました" in verify(other)[-1]["text"]
    # When the 30 minutes are over, the user may try again.
    redis.delete(block_key(registration.USER_MISMATCH, chat_user.user_id))
    assert "ご本人様の確認ができました" in verify(chat_user)[-1]["text"]


def test_mismatches_older_than_15_minutes_do_not_count(app, chat_user):
    seed_customer(app)
    for _ in range(4):
        _mismatch(chat_user)
    redis = app.extensions["redis"]
    key = counter_key(registration.USER_MISMATCH, chat_user.user_id)
    old = time.time() - 16 * 60
    for member in redis.zrange(key, 0, -1):
        redis.zadd(key, {member: old})
    replies = _mismatch(chat_user)
    assert replies[0]["text"] == messages.VERIFY_MISMATCH
    assert "お客様番号からもう一度" in replies[1]["text"]
    assert redis.ttl(block_key(registration.USER_MISMATCH, chat_user.user_id)) < 0


def test_ten_mismatches_in_24_hours_block_the_number_across_users_even_with_right_answers(app, make_chat_user,
                                                                                           make_app, line_api):
    seed_customer(app)
    users = [make_chat_user() for _ in range(3)]
    for user, tries in zip(users, (4, 4, 2), strict=True):
        for _ in range(tries):
            last = _mismatch(user)
    assert last[0]["text"] == messages.VERIFY_MISMATCH
    assert last[1]["text"] == messages.VERIFY_LIMITED_NUMBER
    assert "0120-00-6560" in last[1]["text"] and OPERATOR_LABEL in quick_labels(last[1])
    redis = app.extensions["redis"]
    number_key = block_key(registration.NUMBER_MISMATCH, registration.number_ident(NUMBER, SECRET_KEY))
    assert 86390 <= redis.ttl(number_key) <= 86400
    # A fresh user with every answer right is refused for this number ...
    owner = make_chat_user()
    replies = verify(owner)
    assert replies[0]["text"] == messages.VERIFY_LIMITED_NUMBER
    assert "ご本人様の確認" not in texts(replies)
    # ... also after the web process restarts (a new app on the same Redis) ...
    restarted = make_app()
    again = ChatUser(restarted, owner.user_id)
    assert verify(again)[0]["text"] == messages.VERIFY_LIMITED_NUMBER
    # ... and the leading-zero form of the number is the same number.
    assert verify(make_chat_user(), "0" + NUMBER)[0]["text"] == messages.VERIFY_LIMITED_NUMBER
    # Another customer's number still works.
    seed_customer(app, "555", "0748620000", "コウカ\u3000ハナコ")
    assert "ご本人様の確認ができました" in verify(make_chat_user(), "555", "0748620000", "コウカ ハナコ")[-1]["text"]


def test_numbers_that_do_not_exist_are_counted_and_blocked_too(app, make_chat_user):
    users = [make_chat_user() for _ in range(2)]
    for user in users:
        for _ in range(4):
            _mismatch(user, "424242")
    third = make_chat_user()
    _mismatch(third, "424242")
    last = _mismatch(third, "0424242")
    assert last[1]["text"] == messages.VERIFY_LIMITED_NUMBER
    assert not any(b"424242" in key for key in app.extensions["redis"].keys("bot:*"))
    key = block_key(registration.NUMBER_MISMATCH, registration.number_ident("424242", SECRET_KEY))
    assert app.extensions["redis"].ttl(key) > 86000


def test_a_success_does_not_wipe_the_line_users_mismatch_count(app, chat_user):
    """Knowing one customer's details must not buy unlimited guesses at other numbers: the 5th mismatch
    within 15 minutes blocks, whatever succeeded in between."""
    seed_customer(app)
    for _ in range(4):
        _mismatch(chat_user, "424242")
    assert "ご本人様の確認ができました" in verify(chat_user)[-1]["text"]
    chat_user.say("キャンセル")
    fifth = _mismatch(chat_user, "434343")
    assert fifth[0]["text"] == messages.VERIFY_MISMATCH
    assert fifth[1]["text"] == messages.VERIFY_LIMITED_USER
    assert chat_user.say("登録")[0]["text"] == messages.VERIFY_LIMITED_USER


def test_unknown_number_and_right_phone_still_mismatch_without_saying_which(app, chat_user):
    seed_customer(app)
    for number, phone in (("99999999", PHONE), (NUMBER, "0748629999")):
        replies = verify(chat_user, number, phone)
        assert [r["text"] for r in replies[:1]] == [messages.VERIFY_MISMATCH]
        chat_user.say("キャンセル")


# -- counters Redis will not read or write -----------------------------------------------------
def test_unreadable_counters_refuse_at_the_start(app, make_app, line_api, counters_forbidden_url):
    seed_customer(app)
    limited = make_app(REDIS_URL=counters_forbidden_url)
    user = ChatUser(limited)
    replies = user.say("登録")
    assert replies[0]["text"] == messages.VERIFY_UNAVAILABLE
    assert "0120-00-6560" in replies[0]["text"] and "9:00〜17:00" in replies[0]["text"]
    assert state_of(app, user) is None


def _at_the_name_with_counters(app, make_app, chat_user, redis_url) -> ChatUser:
    """The customer at the name question, now talking to an app whose Redis counters fail."""
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    return ChatUser(make_app(REDIS_URL=redis_url), chat_user.user_id)


def test_unreadable_counters_refuse_even_the_right_answers(app, make_app, line_api, chat_user,
                                                           counters_forbidden_url):
    same_user = _at_the_name_with_counters(app, make_app, chat_user, counters_forbidden_url)
    replies = same_user.say("アイコム タロウ")
    assert replies[0]["text"] == messages.VERIFY_UNAVAILABLE
    assert "ご本人様の確認" not in texts(replies)
    assert state_of(app, chat_user) is None


def test_unwritable_counters_refuse_after_a_mismatch(app, make_app, line_api, chat_user, counters_read_only_url):
    same_user = _at_the_name_with_counters(app, make_app, chat_user, counters_read_only_url)
    replies = same_user.say("マチガイ タロウ")
    assert replies[0]["text"] == messages.VERIFY_MISMATCH
    assert replies[1]["text"] == messages.VERIFY_UNAVAILABLE
    assert state_of(app, chat_user) is None
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []
