"""Free text in the chat: the customer's words to the engine (``ChatUser``), the real flows, the
messages LINE would be sent; the /metrics counter through the webhook (``LineUser``)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import messages
from handlers.cli.csv_rows import read_faq
from storage import faq as faq_store
from storage.models import FaqMiss
from tests.bot.test_billing import bill_card, customer, flex_texts, months_back  # noqa: F401  (fixtures)
from tests.helpers_billing import TOKYO, clock  # noqa: F401  (fixtures)
from tests.line_driver import quick_reply_labels

FAQ_FILE = Path(__file__).resolve().parents[2] / "data" / "faq.csv"


@pytest.fixture
def app_config(app_config, clock):
    """The settable clock (2026-11-25), and an FAQ import seen at once (no refresh interval)."""
    return dict(app_config, CLOCK=clock, FAQ_REFRESH_SECONDS=0)


@pytest.fixture
def default_faq(app):
    """The shipped FAQ, imported as an operator would."""
    rows = read_faq(FAQ_FILE)
    with app.extensions["db"].begin() as db:
        faq_store.replace_all(db, rows, datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO))
    return {row.id: row for row in rows}


def texts(replies: list[dict]) -> list[str]:
    return [m["text"] for m in replies if m["type"] == "text"]


@pytest.mark.parametrize("text", ["今月の料金はいくらですか？", "今月いくら？", "こんげつのりょうきん",
                                  "今回の請求額教えて"])
def test_this_month_in_a_customers_words(chat_user, customer, default_faq, text):
    card = bill_card(chat_user.say(text))
    assert card["altText"] == "2026年11月のご請求金額は10,512円です"


@pytest.mark.parametrize(("text", "month"), [
    ("先月の請求額を教えて", date(2026, 10, 1)), ("8月分の明細", date(2026, 8, 1)), ("八月の料金", date(2026, 8, 1)),
    ("８月", date(2026, 8, 1)), ("2026年8月の請求", date(2026, 8, 1)), ("去年の12月の料金", date(2025, 12, 1)),
    ("先々月の料金は？", date(2026, 9, 1)),
])
def test_months_as_customers_say_them(chat_user, customer, default_faq, text, month):
    card = bill_card(chat_user.say(text))
    assert card["altText"].startswith(messages.month_label(month) + "のご請求金額は")


def test_bill_alone_answers_this_month_and_offers_the_others(chat_user, customer, default_faq):
    card = bill_card(chat_user.say("料金"))
    assert {"先月の料金", "料金一覧"} <= set(quick_reply_labels(card))


def test_faq_answer_is_verbatim_with_link_and_nearest_questions(chat_user, customer, default_faq):
    replies = chat_user.say("来月引っ越すことになったんですが")
    assert default_faq["moving"].answer in texts(replies)
    labels = quick_reply_labels(replies[-1])
    assert messages.QR_OPERATOR in labels
    assert any("https://www.aicom-koka.jp/" in t for t in texts(replies))


def test_forgot_password_gets_the_reminder_link(chat_user, default_faq, app):
    replies = chat_user.say("パスワード忘れた")
    assert any("http://localhost/reminder" in t for t in texts(replies)) or any(
        "http://localhost/reminder" in str(m) for m in replies)


def import_one_entry(runner, tmp_path, row: str) -> None:
    """An operator's FAQ of one entry (``id,question,answer,link``), imported as an operator would."""
    faq = tmp_path / "faq.csv"
    faq.write_text(f"id,question,answer,link\n{row}\n", encoding="utf-8")
    assert runner.invoke(args=["import-faq", str(faq)]).exit_code == 0


def test_an_operators_own_password_entry_is_answered_with_the_reminder_button(chat_user, runner, tmp_path):
    import_one_entry(runner, tmp_path, "pw,マイページのパスワードを忘れました,"
                     "ログイン画面の「パスワードをお忘れの方」から再設定できます。,https://other.example/pw")
    replies = chat_user.say("ぱすわーど　わすれました")
    assert texts(replies)[0] == "ログイン画面の「パスワードをお忘れの方」から再設定できます。"
    assert any("https://other.example/pw" in t for t in texts(replies))
    assert "http://localhost/reminder" in str(replies[-1])
    assert messages.QR_OPERATOR in quick_reply_labels(replies[-1])


def test_an_operators_own_entry_on_how_to_register_is_answered_and_the_registration_starts(chat_user, runner,
                                                                                            tmp_path):
    """「マイページの登録方法は？」 with the operator's own entry on it: its answer, then the registration's
    first question; the next message is the customer number, as when registering from the menu."""
    import_one_entry(runner, tmp_path, "how,マイページの登録方法を教えてください,お客様番号と電話番号をご用意のうえ、"
                     "登録ページからお進みください。,https://other.example/register")
    replies = chat_user.say("マイページの登録のしかた教えて")
    said = texts(replies)
    assert said[0] == "お客様番号と電話番号をご用意のうえ、登録ページからお進みください。"
    assert any("https://other.example/register" in t for t in said)
    assert said[-1] == messages.REGISTER_START and len(replies) <= 5
    assert "お客様番号" in texts(chat_user.say("abc"))[0]  # the registration's own answer to a bad number


def test_an_operators_entry_on_bills_on_the_web_comes_with_the_bill(chat_user, customer, runner, tmp_path):
    """「会員ページで明細って見れますか？」: the operator's entry on where bills are shown, then the bill
    itself; 「今月いくら？」 asks for the bill alone."""
    import_one_entry(runner, tmp_path, "web,毎月の請求金額と内訳をWebで確認できますか？,"
                     "会員ページの「ご請求」から、過去の請求金額と内訳をご確認いただけます。,")
    replies = chat_user.say("会員ページで今月の明細って見れますか？")
    assert texts(replies)[0] == "会員ページの「ご請求」から、過去の請求金額と内訳をご確認いただけます。"
    assert bill_card(replies)["altText"] == "2026年11月のご請求金額は10,512円です"
    alone = chat_user.say("今月いくら？")
    assert "会員ページの「ご請求」" not in " ".join(texts(alone)) and bill_card(alone)


def test_an_operators_entry_on_the_line_link_comes_with_the_login_button(chat_user, runner, tmp_path):
    """「マイページもう使ってるけど、LINEからも見れる？」: the operator's entry on linking LINE, then our own
    「ログインして連携」 button (INTERFACES.md's link), in one reply."""
    import_one_entry(runner, tmp_path, "line,マイページをLINEと連携したい,"
                     "LINEのトークで「ログインして連携」を押し、マイページのIDでログインしてください。,")
    replies = chat_user.say("マイページもう使ってるけど、LINEからも見れる？")
    assert texts(replies)[0] == "LINEのトークで「ログインして連携」を押し、マイページのIDでログインしてください。"
    assert messages.LOGIN_LINK_BUTTON in str(replies[1:]) and len(replies) <= 5


def test_wanting_to_register_gets_what_it_needs_then_the_registration(chat_user, default_faq):
    """The shipped FAQ's entry on what registering needs, then the registration's first question."""
    said = texts(chat_user.say("マイページに登録したいです"))
    assert said[0] == default_faq["mypage_requirements"].answer and said[-1] == messages.REGISTER_START


@pytest.mark.parametrize("text", ["明日の天気は？", "asdfghjk", "12345", "好きな食べ物は何ですか"])
def test_out_of_scope_is_not_understood_and_offers_a_person_and_the_menu(chat_user, customer, default_faq, app, text):
    replies = chat_user.say(text)
    assert len(replies) == 1 and replies[0]["type"] == "text"
    assert "うまく理解できませんでした" in replies[0]["text"]
    labels = quick_reply_labels(replies[0])
    assert messages.QR_OPERATOR in labels and messages.QR_MENU in labels
    with app.extensions["db"].begin() as db:
        assert db.scalar(select(func.count()).select_from(FaqMiss)) == 1


def test_a_kana_answer_in_registration_stays_the_answer(chat_user, default_faq):
    chat_user.say("登録")
    chat_user.say("12345678")
    replies = chat_user.say("0748621234")
    assert "カナ" in texts(replies)[-1]
    replies = chat_user.say("リョウキン")
    assert not any(m["type"] == "flex" for m in replies)
    assert not any("うまく理解できませんでした" in t for t in texts(replies))


def test_greeting_and_thanks(chat_user, default_faq):
    assert texts(chat_user.say("こんにちは"))[0] == messages.SMALL_TALK_GREETING
    assert texts(chat_user.say("ありがとうございました"))[0] == messages.SMALL_TALK_THANKS


def test_person_and_notices(chat_user, customer, default_faq):
    assert "担当者におつなぎします" in texts(chat_user.say("人と話したい"))[0]
    chat_user.say("ボットに戻る")
    assert texts(chat_user.say("通知いらない"))[0] == messages.NOTICES_STOPPED


def test_an_import_is_in_effect_in_the_running_service_without_a_restart(chat_user, default_faq, runner, tmp_path):
    assert "うまく理解できませんでした" in texts(chat_user.say("NHKの受信料は含まれていますか"))[0]
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer,examples\n"
                   "nhk,NHKの受信料は含まれますか？,NHKの受信料は、ケーブルテレビの料金には含まれておりません。,受信料は別？\n",
                   encoding="utf-8")
    result = runner.invoke(args=["import-faq", str(faq)])
    assert result.exit_code == 0, result.output
    assert texts(chat_user.say("NHKの受信料は含まれていますか"))[0] == \
        "NHKの受信料は、ケーブルテレビの料金には含まれておりません。"


def test_a_process_checks_the_version_at_most_every_few_seconds(app, default_faq, tmp_path):
    from bot.understanding.library import FaqLibrary

    now = [0.0]
    library = FaqLibrary(check_seconds=2.0, clock=lambda: now[0])
    with app.extensions["db"].begin() as db:
        first = library.index(db)
        assert len(first) == 21 and library.version == 1
        faq_store.replace_all(db, list(default_faq.values())[:3], datetime(2026, 11, 26, tzinfo=TOKYO))
    with app.extensions["db"].begin() as db:
        now[0] = 1.0
        assert library.index(db) is first  # not checked yet
        now[0] = 2.5
        assert len(library.index(db)) == 3 and library.version == 2


def test_misses_are_kept_masked_counted_and_purged(chat_user, default_faq, runner, app, clock):
    for _ in range(2):
        chat_user.say("090-1234-5678 taro@example.jp ほげほげ")
    chat_user.say("ふがふがぴよぴよ")
    result = runner.invoke(args=["faq", "misses"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["count", "outcome", "last", "seen", "best", "entry", "text"]
    assert lines[1].split()[0] == "2" and "ほげほげ" in lines[1]
    assert "090-1234-5678" not in result.output and "taro@example.jp" not in result.output
    assert "***@***" in lines[1]
    clock.advance(days=91)
    assert runner.invoke(args=["purge"]).exit_code == 0
    assert runner.invoke(args=["faq", "misses"]).output.strip() == "no misses"


def test_low_confidence_answers_are_misses_too(chat_user, default_faq, app):
    from dataclasses import replace

    from bot.flows.understand import FreeTextReader
    from bot.understanding.reader import DEFAULT_THRESHOLDS

    engine = app.extensions["engine"]
    engine.free_text = FreeTextReader(engine.free_text.library, replace(DEFAULT_THRESHOLDS, faq_confident=1.01))
    replies = chat_user.say("来月引っ越します")
    assert default_faq["moving"].answer in texts(replies)  # answered all the same
    with app.extensions["db"].begin() as db:
        (miss,) = db.scalars(select(FaqMiss)).all()
    assert miss.outcome == faq_store.LOW_CONFIDENCE and miss.best_entry == "moving" and miss.score < 1.01


def test_faq_ask_explains_the_choice(runner, default_faq):
    result = runner.invoke(args=["faq", "ask", "来月引っ越します"])
    assert result.exit_code == 0
    assert "chosen: faq:moving" in result.output and default_faq["moving"].answer.splitlines()[0] in result.output
    assert "nearest FAQ entries:" in result.output
    assert "intent bill.this_month" in runner.invoke(args=["faq", "ask", "今月の料金"]).output
    nothing = runner.invoke(args=["faq", "ask", "明日の天気"]).output
    assert "outcome: not_understood" in nothing and "うまく理解できませんでした" in nothing


def test_the_understanding_metric_counts_each_outcome(client, line_user, default_faq):
    from tests.ops.test_metrics import scrape, value

    before = scrape(client)
    line_user.say("来月引っ越します")
    line_user.say("ほげほげふがふが")
    after = scrape(client)
    for outcome in ("answered", "not_understood"):
        assert value(after, "aicom_understanding_total", outcome=outcome) == \
            value(before, "aicom_understanding_total", outcome=outcome) + 1


def test_without_any_faq_the_bot_still_reads_intents_and_says_what_it_cannot(chat_user, customer):
    assert bill_card(chat_user.say("今月いくら？"))
    (reply,) = chat_user.say("来月引っ越します")
    assert "うまく理解できませんでした" in reply["text"]


def test_quick_reply_labels_respect_lines_limits(chat_user, customer, default_faq):
    for text in ("ネットが遅い", "ほげほげ", "料金プラン変えたい"):
        for message in chat_user.say(text):
            for label in quick_reply_labels(message):
                assert len(label) <= 20


def test_the_faq_button_lists_the_operators_questions(chat_user, default_faq):
    (reply,) = chat_user.say("よくある質問")
    assert reply["text"] == messages.FAQ_LIST
    labels = quick_reply_labels(reply)
    assert len(labels) == 13 and labels[-1] == messages.QR_OPERATOR
    first = reply["quickReply"]["items"][0]["action"]["text"]
    assert first == default_faq["moving"].question
    assert texts(chat_user.say(first))[0] == default_faq["moving"].answer
