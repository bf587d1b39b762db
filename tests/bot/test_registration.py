"""Registration in the chat: the dialogue, verification and its limits, the account's details, 仮登録 and its mail.

The customer talks to the engine (``ChatUser``: no webhook, no fake LINE); mail goes through the real
SMTP server in the test process, state lives in PostgreSQL and Redis.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

import pytest
import redis as redis_lib
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import delete, select, update

from bot import messages
from bot.flows import registration
from handlers.jobs import QUEUE_NAME
from storage.keys import block_key, conversation_key, counter_key
from storage.models import Account, Customer, LineLink, LinkToken
from storage.security import hash_password, hash_token
from tests.chat_driver import ChatUser
from tests.conftest import SECRET_KEY
from tests.helpers_registration import (
    KANA,
    NUMBER,
    PHONE,
    TOKYO,
    accounts,
    execute,
    link_path,
    provisional,
    quick_labels,
    seed_customer,
    texts,
    tokens,
    until_confirm,
    verify,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

OPERATOR_LABEL = messages.QR_OPERATOR


def _conversation(app, user) -> dict | None:
    raw = app.extensions["redis"].get(conversation_key("line", user.user_id))
    return json.loads(raw) if raw else None


def _state(app, user) -> str | None:
    conversation = _conversation(app, user)
    return conversation["state"] if conversation else None


def _active_account(app, customer_id: int, login_id: str = "Aicom_Hanako", line_user_id: str | None = None) -> int:
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        account = Account(customer_id=customer_id, login_id=login_id, login_id_key=login_id.lower(),
                          email="hanako@example.jp", nickname="はなこ", password_hash=hash_password("Hanako2026"),
                          status="active", session_version=1, created_at=now, activated_at=now)
        db.add(account)
        db.flush()
        if line_user_id:
            db.add(LineLink(line_user_id=line_user_id, account_id=account.id, notices_enabled=True, linked_at=now))
        return account.id


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


# -- the dialogue --------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["登録", "会員登録", "マイページ登録", "マイページ 登録", "登録。"])
def test_start_words_ask_for_the_customer_number(app, chat_user, word):
    replies = chat_user.say(word)
    assert len(replies) == 1
    assert "お客様番号" in replies[0]["text"]
    assert "先頭の0は省いて" in replies[0]["text"]
    assert "キャンセル" in quick_labels(replies[0])
    assert _state(app, chat_user) == "register:customer_number"


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
    assert _state(app, chat_user) is None


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
    assert _state(app, chat_user) == "register:account_id"


def test_personal_details_are_not_kept_in_the_conversation(app, chat_user):
    seed_customer(app)
    verify(chat_user)
    data = _conversation(app, chat_user)["data"]
    assert PHONE not in json.dumps(data) and NUMBER not in json.dumps(data)
    assert "customer_id" in data


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
    before = _state(app, chat_user)
    replies = chat_user.say(bad)
    assert item in replies[0]["text"]
    assert _state(app, chat_user) == before


# -- mismatch and limits ------------------------------------------------------------------------
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
    assert _state(app, chat_user) == "register:customer_number"
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
    assert _state(app, chat_user) is None
    redis = app.extensions["redis"]
    assert 1790 <= redis.ttl(block_key(registration.USER_MISMATCH, chat_user.user_id)) <= 1800
    # Refused even with the right answers, from the very start.
    again = chat_user.say("登録")
    assert again[0]["text"] == messages.VERIFY_LIMITED_USER
    assert "0120-00-6560" in again[0]["text"]
    assert _state(app, chat_user) is None
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


def _limited_redis_url(redis_url: str, *key_rules: str):
    admin = redis_lib.Redis.from_url(redis_url)
    name, password = "aicom_limited_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", name, "on", ">" + password, "+@all", "~bot:line:*", "~bot:event:*",
                          "~bot:events:*", "~rq:*", "~bot:web:*", "~bot:dev:*", *key_rules)
    host_db = redis_url.split("://", 1)[1]
    return name, f"redis://{name}:{password}@{host_db}"


@pytest.fixture
def counters_forbidden_url(redis_url):
    """A Redis login that may use conversations, locks, dedup and jobs, but NOT the counters and blocks.

    Real Redis refuses (NOPERM) whenever the bot touches ``bot:count:*`` or ``bot:block:*``:
    the counters are honestly unreadable while everything else works.
    """
    name, url = _limited_redis_url(redis_url)
    yield url
    redis_lib.Redis.from_url(redis_url).execute_command("ACL", "DELUSER", name)


@pytest.fixture
def counters_read_only_url(redis_url):
    """As above, but the counters and blocks may be read (nothing is blocked) and not written."""
    name, url = _limited_redis_url(redis_url, "%R~bot:count:*", "%R~bot:block:*")
    yield url
    redis_lib.Redis.from_url(redis_url).execute_command("ACL", "DELUSER", name)


def test_unreadable_counters_refuse_at_the_start(app, make_app, line_api, counters_forbidden_url):
    seed_customer(app)
    limited = make_app(REDIS_URL=counters_forbidden_url)
    user = ChatUser(limited)
    replies = user.say("登録")
    assert replies[0]["text"] == messages.VERIFY_UNAVAILABLE
    assert "0120-00-6560" in replies[0]["text"] and "9:00〜17:00" in replies[0]["text"]
    assert _state(app, user) is None


def test_unreadable_counters_refuse_even_the_right_answers(app, make_app, line_api, chat_user,
                                                           counters_forbidden_url):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    limited = make_app(REDIS_URL=counters_forbidden_url)
    same_user = ChatUser(limited, chat_user.user_id)
    replies = same_user.say("アイコム タロウ")
    assert replies[0]["text"] == messages.VERIFY_UNAVAILABLE
    assert "ご本人様の確認" not in texts(replies)
    assert _state(app, chat_user) is None


def test_unwritable_counters_refuse_after_a_mismatch(app, make_app, line_api, chat_user, counters_read_only_url):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    limited = make_app(REDIS_URL=counters_read_only_url)
    same_user = ChatUser(limited, chat_user.user_id)
    replies = same_user.say("マチガイ タロウ")
    assert replies[0]["text"] == messages.VERIFY_MISMATCH
    assert replies[1]["text"] == messages.VERIFY_UNAVAILABLE
    assert _state(app, chat_user) is None
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []


# -- mid-flow behaviour -------------------------------------------------------------------------
def test_sticker_mid_registration_changes_nothing(app, chat_user):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    before = _conversation(app, chat_user)
    replies = chat_user.sticker()
    assert replies[0]["text"] == messages.NOT_TEXT_IN_FLOW
    assert "電話番号" in replies[1]["text"]
    after = _conversation(app, chat_user)
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
    assert _state(app, chat_user) is not None
    replies = chat_user.say("キャンセル")
    assert replies[0]["text"] == messages.CANCELLED
    assert _state(app, chat_user) is None
    redis = app.extensions["redis"]
    assert redis.keys(f"bot:line:{chat_user.user_id}:*") == []
    assert accounts(db_session) == [] and tokens(db_session) == []
    assert Queue(QUEUE_NAME, connection=redis).count == 0  # no mail, no push: nothing was queued


def test_idle_for_30_minutes_ends_the_registration(app, chat_user):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    redis = app.extensions["redis"]
    key = conversation_key("line", chat_user.user_id)
    conversation = json.loads(redis.get(key))
    conversation["updated_at"] = time.time() - 30 * 60 - 1
    redis.set(key, json.dumps(conversation))
    replies = chat_user.say(PHONE)
    assert replies[0]["text"] == messages.SESSION_EXPIRED
    assert _state(app, chat_user) is None


def test_idle_for_29_minutes_goes_on(app, chat_user):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    redis = app.extensions["redis"]
    key = conversation_key("line", chat_user.user_id)
    conversation = json.loads(redis.get(key))
    conversation["updated_at"] = time.time() - 29 * 60
    redis.set(key, json.dumps(conversation))
    assert "お名前" in chat_user.says(PHONE)


def test_a_linked_line_user_is_told_it_is_already_registered(app, chat_user):
    customer_id = seed_customer(app)
    _active_account(app, customer_id, line_user_id=chat_user.user_id)
    replies = chat_user.say("登録")
    assert replies[0]["text"] == messages.ALREADY_LINKED
    assert _state(app, chat_user) is None


def test_a_customer_with_an_active_account_is_offered_the_reminder_and_login(app, chat_user, line_api, db_session):
    customer_id = seed_customer(app)
    _active_account(app, customer_id)
    replies = verify(chat_user)
    assert replies[0]["altText"] == messages.ALREADY_REGISTERED
    uris = [c["action"]["uri"] for c in replies[0]["contents"]["footer"]["contents"]]
    assert uris == ["http://localhost/reminder"]
    login_uri = replies[1]["contents"]["footer"]["contents"][0]["action"]["uri"]
    assert login_uri.startswith("http://localhost/link/start?t=")
    assert _state(app, chat_user) is None
    assert len(accounts(db_session)) == 1


# -- the account's details ----------------------------------------------------------------------
def test_account_id_is_checked_at_once_ignoring_case(app, chat_user):
    seed_customer(app)
    other = seed_customer(app, "777", "0748627777", "コウカ\u3000ハナコ")
    _active_account(app, other, login_id="Aicom_Taro")
    verify(chat_user)
    replies = chat_user.say("aicom_TARO")
    assert replies[0]["text"] == messages.ACCOUNT_ID_TAKEN
    assert "アカウントID" in replies[0]["text"]
    assert _state(app, chat_user) == "register:account_id"
    assert "メールアドレス" in chat_user.says("aicom_taro2")


@pytest.mark.parametrize(("bad", "message"), [("abc", messages.ACCOUNT_ID_RULES),
                                             ("aicom taro", messages.ACCOUNT_ID_RULES),
                                             ("あいこむたろう", messages.ACCOUNT_ID_RULES)])
def test_invalid_account_id_asks_again(app, chat_user, bad, message):
    seed_customer(app)
    verify(chat_user)
    assert chat_user.say(bad)[0]["text"] == message
    assert _state(app, chat_user) == "register:account_id"


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
    assert _state(app, chat_user) == "register:email"


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
    assert _state(app, chat_user) == "register:nickname"


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
    assert _state(app, chat_user) == "register:confirm"


# -- 仮登録 --------------------------------------------------------------------------------------
def test_provisional_registration_in_the_database(app, chat_user, mailbox, db_session):
    customer_id = seed_customer(app)
    before = datetime.now(TOKYO)
    provisional(chat_user, login_id="Aicom_Taro")
    drain_jobs(app)
    [account] = accounts(db_session)
    assert account.customer_id == customer_id
    assert account.status == "provisional"
    assert account.login_id == "Aicom_Taro" and account.login_id_key == "aicom_taro"
    assert account.email == "taro@example.jp" and account.nickname == "たろう"
    assert account.pending_line_user_id == chat_user.user_id
    assert account.password_hash is None
    assert before + timedelta(hours=24) - timedelta(seconds=5) <= account.expires_at
    assert account.expires_at <= datetime.now(TOKYO) + timedelta(hours=24)
    [token] = tokens(db_session)
    assert token.purpose == "register" and token.account_id == account.id and token.used_at is None
    mail_token = link_path(Mailbox.body(mailbox.wait(1)[0])).rsplit("/", 1)[1]
    assert len(mail_token) >= 22  # >= 128 bits in URL-safe base64
    assert token.token_hash == hash_token(mail_token) and mail_token not in token.token_hash


def test_the_mail(make_app, app, line_api, mailbox):
    seed_customer(app)
    moment = datetime(2026, 11, 25, 14, 5, 33, tzinfo=TOKYO)
    clocked = make_app(CLOCK=lambda: moment)
    user = ChatUser(clocked)
    provisional(user, nickname="たろう")
    assert mailbox.messages == []  # never sent inside the webhook
    drain_jobs(clocked)
    [mail] = mailbox.wait(1)
    assert mail["Subject"] == "【あいコムこうかマイページ】仮登録受付完了"
    assert mail["To"] == "taro@example.jp"
    body = Mailbox.body(mail)
    assert body.startswith("アイコム\u3000タロウ 様\n")  # the contract name, as the printed guide greets
    assert "仮登録を受け付けました" in body
    assert "■受付日時：2026年11月25日 14:05" in body
    assert "■本登録手続きURL\nhttp://localhost/register/complete/" in body
    assert "24時間以内" in body
    assert "心当たりのない方" in body
    assert "0120-00-6560（平日9:00〜17:00）" in body


def test_smtp_down_keeps_the_mail_for_retry_then_delivers_it(app, make_app, line_api, mailbox, redis_url):
    seed_customer(app)
    down = make_app(SMTP_URL="smtp://127.0.0.1:1")
    user = ChatUser(down)
    provisional(user)
    drain_jobs(down)
    assert mailbox.messages == []
    queue = Queue(QUEUE_NAME, connection=down.extensions["redis"])
    scheduled = ScheduledJobRegistry(queue=queue)
    assert scheduled.count == 1, "the failed mail is scheduled for a retry"
    assert FailedJobRegistry(queue=queue).count == 0
    # The mail server is back (the normal app's SMTP_URL); the retry comes due.
    for job_id in scheduled.get_job_ids():
        scheduled.requeue(job_id)
    drain_jobs(app)
    [mail] = mailbox.wait(1)
    assert mail["Subject"] == messages.REGISTRATION_MAIL_SUBJECT
    assert "/register/complete/" in Mailbox.body(mail)


def test_the_database_refuses_an_id_taken_since_it_was_checked(app, chat_user, make_chat_user, db_session):
    """Two customers confirm the same ID; the second 仮登録する loses the race and picks another ID."""
    seed_customer(app)
    seed_customer(app, "777", "0748627777", "コウカ\u3000ハナコ")
    until_confirm(chat_user, login_id="koka_star")
    rival = make_chat_user()
    assert "仮登録が完了しました" in provisional(rival, login_id="Koka_Star", number="777", phone="0748627777",
                                             kana="こうか はなこ")[0]["text"]
    replies = chat_user.say("仮登録する")
    assert replies[0]["text"] == messages.ACCOUNT_ID_TAKEN_JUST_NOW
    assert _state(app, chat_user) == "register:account_id"
    confirm = chat_user.say("koka_moon")
    assert "アカウントID：koka_moon" in confirm[0]["text"]
    assert "仮登録が完了しました" in chat_user.say("仮登録する")[0]["text"]
    assert sorted(a.login_id for a in accounts(db_session)) == ["Koka_Star", "koka_moon"]


def test_starting_again_replaces_the_earlier_provisional_registration(app, chat_user, make_chat_user, mailbox,
                                                                        db_session):
    seed_customer(app)
    first = provisional(chat_user, login_id="aicom_one", email="one@example.jp")
    assert quick_labels(first[0]) == ["メールを再送", "最初からやり直す"]
    assert "お客様番号" in chat_user.says("最初からやり直す")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    chat_user.say("アイコム タロウ")
    chat_user.say("aicom_one")  # its own provisional ID is not "taken"
    chat_user.say("two@example.jp")
    chat_user.say("たろう")
    assert "two@example.jp" in chat_user.says("仮登録する")
    [account] = accounts(db_session)
    assert account.email == "two@example.jp"
    assert len(tokens(db_session)) == 1
    # From another LINE user, the same customer replaces it again (one account per customer).
    other = make_chat_user()
    provisional(other, login_id="aicom_two", email="three@example.jp")
    db_session.expire_all()
    [account] = accounts(db_session)
    assert account.pending_line_user_id == other.user_id and account.login_id == "aicom_two"


def test_resend_issues_a_new_link_and_kills_the_old_one(app, client, chat_user, mailbox, db_session):
    seed_customer(app)
    provisional(chat_user)
    drain_jobs(app)
    old_path = link_path(Mailbox.body(mailbox.wait(1)[0]))
    replies = chat_user.say("メールを再送")
    assert "taro@example.jp" in replies[0]["text"] and "もう一度お送りしました" in replies[0]["text"]
    assert quick_labels(replies[0]) == ["メールを再送", "最初からやり直す"]
    drain_jobs(app)
    mails = mailbox.wait(2)
    assert len(mails) == 2
    new_path = link_path(Mailbox.body(mails[1]))
    assert new_path != old_path
    assert client.get(old_path).status_code == 410
    assert client.get(new_path).status_code == 200


def test_resend_is_limited_to_three_an_hour(app, chat_user, mailbox):
    seed_customer(app)
    provisional(chat_user)
    for _ in range(3):
        assert "もう一度お送りしました" in chat_user.says("メールを再送")
    refused = chat_user.say("メールを再送")
    assert refused[0]["text"] == messages.RESEND_LIMITED
    drain_jobs(app)
    assert len(mailbox.wait(4)) == 4
    time.sleep(0.2)
    assert len(mailbox.messages) == 4


def test_resend_without_a_pending_registration(app, chat_user, db_session):
    seed_customer(app)
    assert chat_user.say("メールを再送")[0]["text"] == messages.NOTHING_TO_RESEND
    provisional(chat_user)
    execute(app, update(Account).values(expires_at=datetime.now(TOKYO) - timedelta(seconds=1)))
    assert chat_user.say("メールを再送")[0]["text"] == messages.NOTHING_TO_RESEND


def test_customer_made_active_meanwhile_is_not_registered_twice(app, chat_user, db_session):
    customer_id = seed_customer(app)
    until_confirm(chat_user)
    _active_account(app, customer_id)
    replies = chat_user.say("仮登録する")
    assert replies[0]["altText"] == messages.ALREADY_REGISTERED
    assert db_session.scalar(select(Account)).status == "active"
    assert db_session.scalars(select(LinkToken)).all() == []


def test_every_reply_respects_line_limits(app, chat_user, line_api):
    """The fake LINE validates every request against LINE's schema and limits; nothing may be refused."""
    seed_customer(app)
    provisional(chat_user, nickname="あ" * 20, login_id="a" * 30, email="a" * 60 + "@example.jp")
    chat_user.say("メールを再送")
    assert [c for c in line_api.calls if c.status != 200] == []


def test_customer_rows_unchanged_by_registration(app, chat_user, db_session):
    seed_customer(app)
    provisional(chat_user)
    customer = db_session.scalar(select(Customer))
    assert (customer.customer_number, customer.phone, customer.name_kana) == (NUMBER, PHONE, KANA)


# -- review fixes (helper J) ------------------------------------------------------------------------
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


def test_customer_deleted_before_provisional_registration_is_answered_not_retried(app, chat_user, db_session):
    seed_customer(app)
    until_confirm(chat_user)
    execute(app, delete(Customer))
    replies = chat_user.say("仮登録する")  # 200: answered, not a 503 that LINE would redeliver forever
    assert replies[0]["text"] == messages.REGISTER_CUSTOMER_GONE
    assert _state(app, chat_user) == "register:customer_number"
    assert accounts(db_session) == [] and tokens(db_session) == []
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []  # not counted as a mismatch


@pytest.mark.parametrize("answers", [[NUMBER], [NUMBER, PHONE]])
def test_number_and_phone_are_never_stored_in_the_conversation(app, chat_user, answers):
    """An abandoned registration keeps its conversation key for hours: it must not hold the number or phone."""
    seed_customer(app)
    chat_user.say("登録")
    for answer in answers:
        chat_user.say(answer)
    stored = json.dumps(_conversation(app, chat_user)["data"])
    for personal in (NUMBER, NUMBER[-4:], PHONE, PHONE[-4:]):
        assert personal not in stored, stored
    if len(answers) == 2:
        assert "ご本人様の確認ができました" in chat_user.says("アイコム タロウ")


def test_unknown_number_and_right_phone_still_mismatch_without_saying_which(app, chat_user):
    seed_customer(app)
    for number, phone in (("99999999", PHONE), (NUMBER, "0748629999")):
        replies = verify(chat_user, number, phone)
        assert [r["text"] for r in replies[:1]] == [messages.VERIFY_MISMATCH]
        chat_user.say("キャンセル")


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
    assert _state(app, chat_user) == "register:customer_number"
    assert _conversation(app, chat_user)["data"] == {}


def test_two_provisional_registrations_for_one_customer_at_once_take_turns(app, db_session):
    """Two LINE users press 仮登録する for the same customer at the same moment: the second waits for the first
    (the customer row is locked) and replaces it, instead of failing on the unique customer index."""
    import threading

    from storage import accounts as account_repo

    customer_id = seed_customer(app)
    sessions = app.extensions["db"].sessions
    now = datetime.now(TOKYO)
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with sessions.begin() as db:
                account_repo.create_provisional(db, customer_id=customer_id, login_id="second_id",
                                                email="b@example.jp", nickname="b", line_user_id="U" + "b" * 32,
                                                now=now, ttl_seconds=3600)
            outcome["second"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["second"] = repr(exc)

    with sessions.begin() as first:
        account_repo.create_provisional(first, customer_id=customer_id, login_id="first_id", email="a@example.jp",
                                        nickname="a", line_user_id="U" + "a" * 32, now=now, ttl_seconds=3600)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)  # the second is now waiting (or has already failed)
    thread.join(10)
    assert outcome == {"second": "ok"}
    assert [a.login_id for a in accounts(db_session)] == ["second_id"]


def test_registration_mails_per_line_user_are_capped(app, chat_user, mailbox, db_session):
    """仮登録 sends a mail, with a nickname the sender chose, to any address typed: without a cap the bot is an
    open relay for anyone who knows one customer's details. 10 mails (仮登録 and resends) a day per LINE user."""
    seed_customer(app)
    for i in range(registration.MAIL_LIMIT - 1):
        assert "仮登録が完了しました" in provisional(chat_user, email=f"r{i}@example.jp")[0]["text"]
    assert "もう一度お送りしました" in chat_user.says("メールを再送")  # resends count too
    refused = provisional(chat_user, email="spam@example.jp")
    assert refused[0]["text"] == messages.REGISTER_MAIL_LIMITED
    assert _state(app, chat_user) == "register:confirm"  # nothing lost; may try later or cancel
    assert refused and "仮登録が完了しました" not in texts(refused)
    chat_user.say("キャンセル")
    assert chat_user.say("メールを再送")[0]["text"] == messages.REGISTER_MAIL_LIMITED
    drain_jobs(app)
    assert len(mailbox.wait(registration.MAIL_LIMIT)) == registration.MAIL_LIMIT
    time.sleep(0.2)
    assert all(m["To"] != "spam@example.jp" for m in mailbox.messages)
    assert [a.email for a in accounts(db_session)] == [f"r{registration.MAIL_LIMIT - 2}@example.jp"]


def test_registration_mails_per_customer_are_capped_across_line_users(app, make_chat_user, mailbox):
    seed_customer(app)
    users = [make_chat_user() for _ in range(3)]
    for i in range(registration.MAIL_LIMIT):
        assert "仮登録が完了しました" in provisional(users[i % 2], email=f"c{i}@example.jp")[0]["text"]
    assert provisional(users[2], email="third@example.jp")[0]["text"] == messages.REGISTER_MAIL_LIMITED
    assert not any(NUMBER.encode() in key for key in app.extensions["redis"].keys("bot:*"))


def test_unreadable_mail_counter_refuses_the_mail(app, make_app, line_api, chat_user, counters_forbidden_url,
                                                  db_session):
    seed_customer(app)
    until_confirm(chat_user)
    limited = make_app(REDIS_URL=counters_forbidden_url)
    same_user = ChatUser(limited, chat_user.user_id)
    assert same_user.say("仮登録する")[0]["text"] == messages.BUSY_RETRY
    assert accounts(db_session) == []
    assert _state(app, chat_user) == "register:confirm"


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
    assert not (_state(app, chat_user) or "").startswith("register:")
    assert "担当者におつなぎします" in texts(replies)  # handed over


@pytest.mark.parametrize("word", ["ヘルプ", "へるぷ", "メニュー"])
def test_help_mid_registration_leaves_the_flow_for_the_menu(app, chat_user, word):
    seed_customer(app)
    verify(chat_user)
    chat_user.say("aicom_taro")
    chat_user.say("taro@example.jp")
    replies = chat_user.say(word)
    assert "ニックネーム" not in texts(replies)
    assert _state(app, chat_user) is None
    assert messages.MENU_UNLINKED in texts(replies)


def test_a_rich_menu_tap_mid_registration_is_not_an_answer(app, chat_user):
    seed_customer(app)
    chat_user.say("登録")
    chat_user.say(NUMBER)
    chat_user.say(PHONE)
    replies = chat_user.say("よくある質問")
    assert replies[0]["text"] == messages.REGISTER_IN_PROGRESS
    assert _state(app, chat_user) == "register:name_kana"
    assert "ご本人様の確認ができました" in chat_user.says("アイコム タロウ")  # the earlier answers were kept


def test_provisional_registration_does_not_wait_for_a_running_customer_import(app, db_session):
    """An import updates customer rows in one long transaction; 仮登録 must not queue behind it."""
    import threading

    from storage import accounts as account_repo

    customer_id = seed_customer(app)
    sessions = app.extensions["db"].sessions
    done = threading.Event()

    def register() -> None:
        with sessions.begin() as db:
            account_repo.create_provisional(db, customer_id=customer_id, login_id="during_import",
                                            email="a@example.jp", nickname="a", line_user_id="U" + "a" * 32,
                                            now=datetime.now(TOKYO), ttl_seconds=3600)
        done.set()

    with sessions.begin() as importing:
        importing.execute(update(Customer).where(Customer.id == customer_id).values(name="愛甲 太郎（更新）"))
        thread = threading.Thread(target=register)
        thread.start()
        finished_during_import = done.wait(5)
    thread.join(10)
    assert finished_during_import
    assert [a.login_id for a in accounts(db_session)] == ["during_import"]


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
    before = _state(app, chat_user)
    replies = chat_user.say(odd)
    assert all(len(m.get("text", "")) <= 5000 for m in replies)
    assert odd.strip() == "" or odd not in texts(replies)
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []  # never checked as a verification
    if _state(app, chat_user) == before:
        assert STEP_ITEMS[step] in texts(replies)
    else:  # only a nickname may be odd-looking yet valid (emoji); it reaches the confirmation
        assert step == 5 and _state(app, chat_user) == "register:confirm"


def test_a_postback_mid_registration_is_never_taken_as_an_answer(app, chat_user):
    """A rich-menu or old-button postback carries machine data ("action=bill"): as an account ID it was valid."""
    seed_customer(app)
    verify(chat_user)
    replies = chat_user.postback("action=bill&month=this")
    assert "アカウントID" in texts(replies)
    assert _state(app, chat_user) == "register:account_id"
    assert "login_id" not in _conversation(app, chat_user)["data"]
    chat_user.say("aicom_taro")
    chat_user.say("taro@example.jp")
    chat_user.postback("nickname-ish")
    assert _state(app, chat_user) == "register:nickname"


def test_a_conversation_saved_by_the_previous_release_starts_again_without_a_mismatch(app, chat_user):
    """Deployed mid-registration: the old layout kept the number and phone; it is dropped, never counted."""
    seed_customer(app)
    old = {"state": "register:name_kana", "data": {"customer_number": NUMBER, "phone": PHONE},
           "updated_at": time.time()}
    app.extensions["redis"].set(conversation_key("line", chat_user.user_id), json.dumps(old))
    replies = chat_user.say("アイコム タロウ")
    assert replies[0]["text"] == messages.REGISTER_START
    assert _conversation(app, chat_user)["data"] == {}
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []
