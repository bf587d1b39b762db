"""Registration in the chat: 仮登録 in the database, its races, and the customer changing meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from bot import messages
from storage.models import Account, Customer, LinkToken
from storage.security import hash_token
from tests.bot.registration_steps import active_account, state_of
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
    tokens,
    until_confirm,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox


# -- 仮登録 ---------------------------------------------------------------------------------------
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
    assert state_of(app, chat_user) == "register:account_id"
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


def test_customer_made_active_meanwhile_is_not_registered_twice(app, chat_user, db_session):
    customer_id = seed_customer(app)
    until_confirm(chat_user)
    active_account(app, customer_id)
    replies = chat_user.say("仮登録する")
    assert replies[0]["altText"] == messages.ALREADY_REGISTERED
    assert db_session.scalar(select(Account)).status == "active"
    assert db_session.scalars(select(LinkToken)).all() == []


def test_customer_deleted_before_provisional_registration_is_answered_not_retried(app, chat_user, db_session):
    seed_customer(app)
    until_confirm(chat_user)
    execute(app, delete(Customer))
    replies = chat_user.say("仮登録する")  # 200: answered, not a 503 that LINE would redeliver forever
    assert replies[0]["text"] == messages.REGISTER_CUSTOMER_GONE
    assert state_of(app, chat_user) == "register:customer_number"
    assert accounts(db_session) == [] and tokens(db_session) == []
    assert app.extensions["redis"].keys("bot:count:register_mismatch*") == []  # not counted as a mismatch


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


# -- at the same time as others ----------------------------------------------------------------
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
