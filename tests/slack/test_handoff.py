"""The whole handoff loop against the fake Slack Web API and the fake LINE API (real SDK clients)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from bot.hours import TOKYO
from handlers import jobs
from handlers.slack import threads
from storage.models import HandoffMessage
from tests.line_driver import drain_jobs
from tests.slack.conftest import BOT_USER_ID, CHANNEL, open_handoff, signed_headers
from tests.slack.fake_slack import BOT_ID


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def test_escalation_posts_one_message_with_the_close_button(escalate, slack, line_user, line_api):
    line_api.profiles[line_user.user_id] = {"userId": line_user.user_id, "displayName": "たろう", "language": "ja"}
    line_user.say("請求について 090-1234-5678 に電話ください")
    replies, handoff = escalate()
    said = texts(replies)
    assert "担当者におつなぎします" in said and "0120-00-6560" in said and "9:00〜17:00" in said
    (post,) = slack.posts()
    assert post["channel"] == CHANNEL and "thread_ts" not in post
    blocks = json.dumps(post["blocks"], ensure_ascii=False)
    assert "たろう" in blocks and "未連携" in blocks and "オペレーターを希望" in blocks
    assert "090-1234-5678" not in blocks and "***-****-****" in blocks  # personal numbers masked
    (button,) = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "close_handoff" and button["text"]["text"] == "対応完了"
    assert handoff.status == "waiting" and handoff.reason == "asked" and handoff.staff_thread_ts
    assert handoff.opened_at is not None and handoff.closed_at is None


def test_linked_customer_shows_the_masked_number(app, escalate, slack, line_user):
    from tests.helpers_billing import seed_customer_with_account, seed_link

    seeded = seed_customer_with_account(app, number="12345678")
    seed_link(app, seeded.account_id, line_user.user_id)
    _replies, _handoff = escalate()
    shown = json.dumps(slack.posts()[0]["blocks"], ensure_ascii=False)
    assert "連携済み（お客様番号 ****5678）" in shown and "12345678" not in shown


def test_customer_messages_go_into_the_thread_and_the_bot_stays_silent(app, escalate, slack, line_user):
    _replies, handoff = escalate()
    assert line_user.say("ネットがつながりません") == []
    assert line_user.sticker() == []
    assert line_user.say("今月の料金") == []  # even a command: a person has the chat
    drain_jobs(app)
    thread = slack.posts(handoff.staff_thread_ts)
    assert [p["text"] for p in thread] == ["お客様: ネットがつながりません", "お客様: （スタンプが送信されました）",
                                           "お客様: 今月の料金"]


def test_staff_reply_reaches_the_customer_and_note_stays_in_slack(app, escalate, staff, line_user, line_api):
    _replies, handoff = escalate()
    assert staff.reply(handoff.staff_thread_ts, "note: 料金の件、確認中").status_code == 200
    assert staff.reply(handoff.staff_thread_ts, "お待たせしました。担当の鈴木です。").status_code == 200
    drain_jobs(app)
    broadcast = staff.reply(handoff.staff_thread_ts, "チャンネルにも送信した返信", subtype="thread_broadcast")
    assert broadcast.status_code == 200
    drain_jobs(app)
    pushed = [m["text"] for m in line_api.messages(line_user.user_id) if "鈴木" in m.get("text", "")
              or "確認中" in m.get("text", "") or "チャンネル" in m.get("text", "")]
    assert pushed == ["お待たせしました。担当の鈴木です。", "チャンネルにも送信した返信"]
    fresh = open_handoff(app)
    assert fresh.status == "with_staff" and fresh.first_staff_reply_at is not None


def test_close_hands_the_chat_back_and_updates_the_message(app, escalate, staff, slack, line_user, line_api):
    _replies, handoff = escalate()
    assert staff.press_close(handoff.id, handoff.staff_thread_ts, name="suzuki").status_code == 200
    drain_jobs(app)
    assert "担当者とのトークを終了しました" in texts(line_api.messages(line_user.user_id))
    (update,) = [c.args for c in slack.of("chat.update")]
    assert update["ts"] == handoff.staff_thread_ts and update["channel"] == CHANNEL
    shown = json.dumps(update["blocks"], ensure_ascii=False)
    assert "対応完了: suzuki" in shown and "2026年12月1日 10:00" in shown and "close_handoff" not in shown
    fresh = open_handoff(app)
    assert fresh.status == "closed" and fresh.closed_by == "suzuki" and fresh.closed_at is not None
    # The bot answers again, and nothing more goes to the thread.
    assert "メニュー" in line_user.says("ヘルプ") or line_user.says("ヘルプ")
    drain_jobs(app)
    assert not [p for p in slack.posts(handoff.staff_thread_ts) if p["text"].startswith("お客様:")]
    # Pressing again changes nothing.
    before = len(line_api.messages(line_user.user_id))
    staff.press_close(handoff.id, handoff.staff_thread_ts)
    drain_jobs(app)
    assert len(line_api.messages(line_user.user_id)) == before


def test_bad_and_stale_signatures_are_401_and_change_nothing(app, client, escalate, line_user, line_api):
    _replies, handoff = escalate()
    event = {"type": "event_callback", "team_id": "T0OURTEAM", "event_id": "EvBAD",
             "event": {"type": "message", "channel": CHANNEL, "user": "U0STAFF01", "text": "偽物",
                       "ts": "1.2", "thread_ts": handoff.staff_thread_ts}}
    body = json.dumps(event, ensure_ascii=False).encode()
    wrong = signed_headers(body, secret="not-the-secret")
    assert client.post("/slack/events", data=body, headers=wrong).status_code == 401
    stale = signed_headers(body, timestamp=int(time.time()) - 301)
    assert client.post("/slack/events", data=body, headers=stale).status_code == 401
    tampered = signed_headers(body)
    assert client.post("/slack/events", data=body.replace("偽物".encode(), b"fake"),
                       headers=tampered).status_code == 401
    assert client.post("/slack/events", data=body).status_code == 401  # unsigned
    assert client.post("/slack/interactions", data=b"payload=%7B%7D",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    drain_jobs(app)
    assert "偽物" not in texts(line_api.messages(line_user.user_id))


def test_url_verification_answers_the_challenge(client):
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}).encode()
    response = client.post("/slack/events", data=body, headers=signed_headers(body))
    assert response.status_code == 200 and response.get_json() == {"challenge": "abc123"}


def test_slack_retries_are_processed_once(app, escalate, staff, line_user, line_api):
    _replies, handoff = escalate()
    event = {"type": "message", "channel": CHANNEL, "user": "U0STAFF01", "text": "一度だけ届きます",
             "ts": "1764000999.000100", "thread_ts": handoff.staff_thread_ts}
    assert staff.post_event(event, event_id="Ev0RETRY").status_code == 200
    for attempt in ("1", "2"):
        response = staff.post_event(event, event_id="Ev0RETRY",
                                    headers={"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"})
        assert response.status_code == 200
    drain_jobs(app)
    assert texts(line_api.messages(line_user.user_id)).count("一度だけ届きます") == 1


def test_bot_messages_edits_and_other_channels_change_nothing(app, escalate, staff, line_user, line_api):
    _replies, handoff = escalate()
    thread = handoff.staff_thread_ts
    staff.reply(thread, "ボット自身の投稿", user=BOT_USER_ID)
    staff.reply(thread, "bot_id付きの投稿", bot_id=BOT_ID)
    staff.reply(thread, "他のボット", subtype="bot_message")
    staff.reply(thread, "編集後", subtype="message_changed")
    staff.reply(thread, "別チャンネル", channel="C0OTHER")
    staff.post_event({"type": "message", "channel": CHANNEL, "user": "U0STAFF01", "text": "別ワークスペース",
                      "ts": "1.1", "thread_ts": thread}, team_id="T0STRANGER")
    staff.post_event({"type": "message", "channel": CHANNEL, "user": "U0STAFF01", "text": "スレッド外",
                      "ts": "2.2"})
    drain_jobs(app)
    said = texts(line_api.messages(line_user.user_id))
    for text in ("ボット自身", "bot_id付き", "他のボット", "編集後", "別チャンネル", "別ワークスペース", "スレッド外"):
        assert text not in said
    assert open_handoff(app).first_staff_reply_at is None


def test_no_staff_reply_in_time_tells_the_customer(app, escalate, slack, line_user, line_api):
    _replies, handoff = escalate()
    registry = ScheduledJobRegistry(queue=Queue(jobs.INTERACTIVE, connection=app.extensions["redis"]))
    (job_id,) = registry.get_job_ids()
    due = registry.get_scheduled_time(job_id)
    assert timedelta(minutes=14) < due - datetime.now(due.tzinfo) <= timedelta(minutes=15, seconds=5)
    with app.app_context():
        threads.no_reply_job(handoff.id)  # what the scheduler runs when it is due
        threads.no_reply_job(handoff.id)  # once only
    drain_jobs(app)
    said = texts(line_api.messages(line_user.user_id))
    assert said.count("ただいま担当者がご返信できない状況です") == 1 and "0120-00-6560" in said
    notices = [p for p in slack.posts(handoff.staff_thread_ts) if "（自動）" in p["text"]]
    assert len(notices) == 1
    # 「ボットに戻る」 ends the handoff from the customer's side.
    assert "自動応答に戻りました" in line_user.says("ボットに戻る")
    assert open_handoff(app).closed_by == "customer"


def test_no_reply_notice_not_sent_after_a_staff_reply(app, escalate, staff, line_user, line_api):
    _replies, handoff = escalate()
    staff.reply(handoff.staff_thread_ts, "対応します")
    drain_jobs(app)
    with app.app_context():
        threads.no_reply_job(handoff.id)
    drain_jobs(app)
    assert "ご返信できない状況" not in texts(line_api.messages(line_user.user_id))


def test_outside_hours_the_answer_comes_the_next_business_day(app, clock, escalate, slack):
    clock.moment = datetime(2026, 12, 4, 18, 30, tzinfo=TOKYO)  # a Friday evening
    replies, handoff = escalate("問い合わせ")
    said = texts(replies)
    assert "翌営業日" in said and "0120-00-6560" in said and "9:00〜17:00" in said
    assert "受付時間外" in json.dumps(slack.posts()[0]["blocks"], ensure_ascii=False)
    registry = ScheduledJobRegistry(queue=Queue(jobs.INTERACTIVE, connection=app.extensions["redis"]))
    (job_id,) = registry.get_job_ids()
    due = registry.get_scheduled_time(job_id)
    # Monday 9:00 + 15 minutes, counted from the fake "now" (Friday 18:30): 62 h 45 min later.
    assert abs((due - datetime.now(due.tzinfo)) - timedelta(hours=62, minutes=45)) < timedelta(minutes=1)


def test_posts_keep_their_order_across_a_slack_failure(app, escalate, slack, line_user):
    _replies, handoff = escalate()
    slack.fail_next.append("internal_error")
    line_user.say("一通目")
    line_user.say("二通目")
    from handlers import jobs

    with app.app_context():
        try:
            threads.slack_outbox_job(handoff.id)
        except Exception:  # noqa: BLE001 - the first post failed; RQ would retry
            pass
        jobs.enqueue(threads.slack_outbox_job, handoff_id=handoff.id)
    drain_jobs(app)
    assert [p["text"] for p in slack.posts(handoff.staff_thread_ts)] == ["お客様: 一通目", "お客様: 二通目"]
    with app.extensions["db"].begin() as session:
        pending = session.scalars(select(HandoffMessage).where(HandoffMessage.sent_at.is_(None))).all()
    assert pending == []


def test_every_asking_word_opens_a_handoff(app, make_line_user, slack):
    for word in ("オペレーター", "問い合わせ", "人と話したい", "オペレーターと話す"):
        user = make_line_user()
        assert "担当者におつなぎします" in user.says(word)
    drain_jobs(app)
    assert len([p for p in slack.posts() if "thread_ts" not in p]) == 4


def test_a_customer_who_blocks_the_account_ends_the_handoff(app, escalate, slack, line_user):
    _replies, handoff = escalate()
    line_user.send_event(line_user._event("unfollow"))
    drain_jobs(app)
    fresh = open_handoff(app)
    assert fresh.status == "closed" and fresh.closed_by == "customer"
    (update,) = [c.args for c in slack.of("chat.update")]
    assert "ブロック" in json.dumps(update["blocks"], ensure_ascii=False)


def test_transcripts_can_be_purged_after_close_and_reports_keep_the_times(app, escalate, staff, line_user):
    from storage import handoffs as handoff_store

    _replies, handoff = escalate()
    line_user.say("個人的な相談です")
    staff.press_close(handoff.id, handoff.staff_thread_ts)
    drain_jobs(app)
    with app.extensions["db"].begin() as session:
        assert handoff_store.delete_transcripts(session, datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)) == 0
        removed = handoff_store.delete_transcripts(session, datetime(2027, 3, 1, tzinfo=TOKYO))
    assert removed >= 2
    kept = open_handoff(app)
    assert kept.opened_at and kept.closed_at and kept.reason == "asked"


def test_close_from_another_channel_or_message_changes_nothing(app, escalate, staff, line_user, line_api):
    _replies, handoff = escalate()
    staff.press_close(handoff.id, handoff.staff_thread_ts, channel="C0OTHER")
    staff.press_close(handoff.id, "1764000000.999999")  # a button on some other message
    drain_jobs(app)
    assert open_handoff(app).status == "waiting"
    assert "トークを終了しました" not in texts(line_api.messages(line_user.user_id))


def test_slack_is_answered_at_once_even_when_slack_is_down(app, escalate, staff, slack, line_user):
    _replies, handoff = escalate()
    slack.fail_next.extend(["ratelimited"] * 3)
    started = time.monotonic()
    assert staff.reply(handoff.staff_thread_ts, "すぐ返ります").status_code == 200
    assert time.monotonic() - started < 3  # the work is a job, not part of the request


def test_staff_replies_still_arrive_when_auth_test_fails(app, escalate, staff, slack, line_user, line_api):
    _replies, handoff = escalate()
    slack.fail_next.append("missing_scope")  # auth.test, the first Slack call the event job makes
    staff.reply(handoff.staff_thread_ts, "auth.testなしでも届きます")
    drain_jobs(app)
    assert "auth.testなしでも届きます" in texts(line_api.messages(line_user.user_id))


def test_close_button_found_by_its_message_when_it_carries_no_value(app, escalate, staff, line_user, line_api):
    _replies, handoff = escalate()
    staff.press_close("", handoff.staff_thread_ts)
    drain_jobs(app)
    assert open_handoff(app).status == "closed"


def test_staff_see_what_the_bot_understood_of_the_last_texts(app, escalate, slack, line_user):
    from handlers.cli.csv_rows import read_faq
    from storage import faq as faq_store
    from tests.understanding.test_chat import FAQ_FILE

    with app.extensions["db"].begin() as session:
        faq_store.replace_all(session, read_faq(FAQ_FILE), datetime.now(TOKYO))
    line_user.say("来月引っ越すんですが、手続きは？")
    line_user.say("ほげほげふがふが")
    escalate("人と話したい")
    shown = json.dumps(slack.posts()[0]["blocks"], ensure_ascii=False)
    assert "来月引っ越すんですが、手続きは?" in shown  # as kept: NFKC, digits masked
    assert "自動応答：FAQ「引っ越しをするときは、どんな手続きが必要ですか？」を案内" in shown
    assert "自動応答：理解できず" in shown
    with app.extensions["db"].begin() as session:
        opened = session.scalars(select(HandoffMessage).where(HandoffMessage.kind == "opened")).one()
        payload = json.loads(opened.payload)
    assert len(payload["understood"]) == len(payload["recent"]) == 2


# -- issue 20: what staff see, and a kinder handoff for the customer ---------------------------------
def test_staff_see_the_month_asked_about_but_not_the_customers_numbers_or_name(app, escalate, slack, line_user):
    from tests.helpers_billing import seed_customer_with_account, seed_link

    seeded = seed_customer_with_account(app, number="12345678")
    seed_link(app, seeded.account_id, line_user.user_id)
    with app.extensions["db"].begin() as session:
        from storage.models import Customer

        customer = session.get(Customer, seeded.customer_id)
        name_kana, name = customer.name_kana, customer.name
    line_user.say("2025年12月の料金が5,280円なのはなぜ？")
    line_user.say(f"名義は{name_kana}、電話は0748-62-1234です")
    escalate()
    shown = json.dumps(slack.posts()[0]["blocks"], ensure_ascii=False)
    assert "2025年12月の料金が5,280円なのはなぜ?" in shown and "****年" not in shown
    assert "電話は****-**-****です" in shown and "0748-62-1234" not in shown
    assert name_kana not in shown and "名義は***、" in shown
    if name:
        assert name not in shown


def test_the_customer_can_go_back_to_the_bot_with_one_tap(app, escalate, staff, line_user, line_api):
    replies, handoff = escalate()
    assert "ボットに戻る" in [item["action"]["text"] for item in replies[0]["quickReply"]["items"]]
    staff.reply(handoff.staff_thread_ts, "担当の鈴木です。ご用件を伺います。")
    drain_jobs(app)
    (pushed,) = [m for m in line_api.messages(line_user.user_id) if "鈴木" in m.get("text", "")]
    assert [item["action"]["label"] for item in pushed["quickReply"]["items"]] == ["ボットに戻る"]
    assert "自動応答に戻りました" in line_user.says("ボットに戻る")


def test_within_hours_the_customers_messages_get_no_answer(app, escalate, line_user):
    escalate()
    assert line_user.say("ネットがつながりません") == []
    assert line_user.say("まだですか") == []


def test_outside_hours_each_evening_is_acknowledged_once(app, clock, escalate, slack, line_user):
    from bot import messages

    _replies, handoff = escalate()  # Tuesday 10:00, within hours
    clock.moment = datetime(2026, 12, 1, 18, 0, tzinfo=TOKYO)  # the same Tuesday, after closing
    first = line_user.say("ネットがつながりません")
    assert len(first) == 1
    assert first[0]["text"] == messages.HANDOFF_AFTER_HOURS_ACK.format(
        opening="翌営業日の2026年12月2日（水）9:00", hours="9:00〜17:00")
    assert "受付時間外のため、翌営業日" in first[0]["text"]
    assert [item["action"]["text"] for item in first[0]["quickReply"]["items"]] == ["ボットに戻る"]
    clock.moment = datetime(2026, 12, 1, 21, 0, tzinfo=TOKYO)
    assert line_user.say("モデムのランプが赤いです") == []  # told once, not for every message
    assert line_user.sticker() == []
    clock.moment = datetime(2026, 12, 2, 7, 30, tzinfo=TOKYO)  # early next morning: the same closed stretch
    assert line_user.say("おはようございます") == []
    clock.moment = datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)  # open again: nothing said
    assert line_user.say("つながりました？") == []
    clock.moment = datetime(2026, 12, 4, 19, 0, tzinfo=TOKYO)  # Friday evening: a new stretch, told again
    friday = line_user.says("週明けでも大丈夫です")
    assert "翌営業日の2026年12月7日（月）9:00以降" in friday
    drain_jobs(app)
    thread = [p["text"] for p in slack.posts(handoff.staff_thread_ts)]
    assert [t for t in thread if t.startswith("（自動）受付時間外")] == [
        "（自動）受付時間外のため、お客様に2026年12月2日 9:00以降にご返信するとご案内しました。",
        "（自動）受付時間外のため、お客様に2026年12月7日 9:00以降にご返信するとご案内しました。"]
    assert thread.count("お客様: 週明けでも大丈夫です") == 1  # every message still reaches staff


def test_a_handoff_opened_after_hours_is_not_acknowledged_again_that_night(app, clock, escalate, line_user):
    clock.moment = datetime(2026, 12, 4, 18, 30, tzinfo=TOKYO)  # a Friday evening
    replies, _handoff = escalate()
    said = texts(replies)
    assert "翌営業日の2026年12月7日（月）9:00以降に担当者からご返信します" in said
    assert "ボットに戻る" in [item["action"]["text"] for item in replies[0]["quickReply"]["items"]]
    clock.moment = datetime(2026, 12, 5, 11, 0, tzinfo=TOKYO)  # Saturday: still the same closed stretch
    assert line_user.say("よろしくお願いします") == []


def test_before_opening_the_same_morning_says_today(app, clock, escalate, line_user):
    _replies, _handoff = escalate()
    clock.moment = datetime(2026, 12, 2, 7, 0, tzinfo=TOKYO)  # Wednesday 7:00
    assert "本日9:00以降にご返信します" in line_user.says("朝早くすみません")
