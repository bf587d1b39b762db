"""Registration in the chat: the 仮登録 mail, its retry, resends, and the caps on mails sent."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import update

from bot import messages
from bot.flows import registration
from handlers.jobs import QUEUE_NAME
from storage.models import Account
from tests.bot.registration_steps import (
    counters_forbidden_url,  # noqa: F401 - fixtures
    state_of,
)
from tests.chat_driver import ChatUser
from tests.helpers_registration import (
    NUMBER,
    TOKYO,
    accounts,
    execute,
    link_path,
    provisional,
    quick_labels,
    seed_customer,
    texts,
    until_confirm,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox


# -- the mail ----------------------------------------------------------------------------------
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


# -- resends -----------------------------------------------------------------------------------
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


# -- caps on mails -----------------------------------------------------------------------------
def test_registration_mails_per_line_user_are_capped(app, chat_user, mailbox, db_session):
    """仮登録 sends a mail, with a nickname the sender chose, to any address typed: without a cap the bot is an
    open relay for anyone who knows one customer's details. 10 mails (仮登録 and resends) a day per LINE user."""
    seed_customer(app)
    for i in range(registration.MAIL_LIMIT - 1):
        assert "仮登録が完了しました" in provisional(chat_user, email=f"r{i}@example.jp")[0]["text"]
    assert "もう一度お送りしました" in chat_user.says("メールを再送")  # resends count too
    refused = provisional(chat_user, email="spam@example.jp")
    assert refused[0]["text"] == messages.REGISTER_MAIL_LIMITED
    assert state_of(app, chat_user) == "register:confirm"  # nothing lost; may try later or cancel
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
    assert state_of(app, chat_user) == "register:confirm"
