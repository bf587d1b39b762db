"""Bills in the chat: 今月の料金, 先月, named months, 料金一覧, the not-linked guide, and the Flex rendering."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot.types import BillCard, BillLine, BillList, BillListEntry
from handlers.emulator import line_schema
from handlers.line.render import render_bill_card, render_bill_list
from storage.models import LinkToken
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    TOKYO,
    app_config,
    clock,
    seed_customer_with_account,
    seed_link,
    seed_statement,
)
from tests.line_driver import quick_reply_labels

NOV_ITEMS = [("ケーブルテレビ 基本料金", 3300), ("インターネット 光100M", 4400), ("セット割引", -500),
             ("STBレンタル", 550), ("録画機能", 330), ("安心サポート", 220), ("メールオプション", 110),
             ("固定IP", 1100), ("工事費分割（3/12）", 1000), ("ユニバーサルサービス料", 2)]


def months_back(start: date, count: int) -> list[date]:
    out, year, month = [], start.year, start.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


@pytest.fixture
def customer(app, chat_user):
    """A linked customer with statements from 2025-07 to 2026-11 (17 months)."""
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    ids = {}
    for month in months_back(date(2026, 10, 1), 16):
        ids[month] = seed_statement(app, seeded.customer_id, month,
                                    [("ケーブルテレビ 基本料金", 3300), ("インターネット", 1000 + month.month)],
                                    due_date=date(month.year, month.month, 27), payment_method="口座振替")
    ids[date(2026, 11, 1)] = seed_statement(app, seeded.customer_id, date(2026, 11, 1), NOV_ITEMS,
                                            due_date=date(2026, 12, 28), payment_method="口座振替")
    seeded.statement_ids = ids
    return seeded


def flex_texts(node) -> list[str]:
    """Every text of a Flex tree, in order."""
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "text":
            out.append(node["text"])
        for value in node.values():
            if isinstance(value, dict | list):
                out.extend(flex_texts(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(flex_texts(value))
    return out


def flex_actions(node) -> list[dict]:
    out: list[dict] = []
    if isinstance(node, dict):
        if isinstance(node.get("action"), dict):
            out.append(node["action"])
        for value in node.values():
            if isinstance(value, dict | list):
                out.extend(flex_actions(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(flex_actions(value))
    return out


def bill_card(messages: list[dict]) -> dict:
    cards = [m for m in messages if m["type"] == "flex" and "ご請求金額は" in m["altText"]]
    assert len(cards) == 1, messages
    return cards[0]


def no_refusals(line_api) -> None:
    assert [c.errors for c in line_api.calls if c.status != 200] == []


# -- 今月の料金 ---------------------------------------------------------------------------------
def test_this_month_card_matches_the_statement_to_the_yen(chat_user, customer, app):
    card = bill_card(chat_user.say("今月の料金"))
    assert card["altText"] == "2026年11月のご請求金額は10,512円です"
    bubble = card["contents"]
    header = flex_texts(bubble["header"])
    assert "請求年月" in header and "2026年11月" in header
    body = [text.replace("\n", "") for text in flex_texts(bubble["body"])]  # names cut into whole-word lines
    assert body[:2] == ["ご請求金額", "10,512円"]
    assert sum(a for _n, a in NOV_ITEMS) == 10512
    assert body[body.index("引落日") + 1] == "2026年12月28日"
    assert body[body.index("支払方法") + 1] == "口座振替"
    for name, amount in NOV_ITEMS[:8]:
        assert body[body.index(name) + 1] == f"{amount:,}円".replace("-", "\u2212")
    assert "セット割引" in body and "\u2212500円" in body and "-500円" not in body  # a true minus (issue 20)
    assert "ほか2件" in body
    assert NOV_ITEMS[9][0] not in body
    (button,) = flex_actions(bubble["footer"])
    assert button["label"] == "明細を見る" and button["type"] == "uri"
    url = urlsplit(button["uri"])
    assert f"{url.scheme}://{url.netloc}" == "http://localhost"
    assert url.path == f"/mypage/bills/{customer.statement_ids[date(2026, 11, 1)]}"
    token = parse_qs(url.query)["t"][0]
    assert len(token) >= 43
    with app.extensions["db"].begin() as db:
        link = db.scalar(select(LinkToken).where(LinkToken.purpose == "bill"))
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert link.token_hash != token and link.account_id == customer.account_id
        assert link.statement_id == customer.statement_ids[date(2026, 11, 1)]
        assert (link.expires_at - link.created_at).total_seconds() == 15 * 60
    assert {"料金一覧", "先月の料金"} <= set(quick_reply_labels(card))


@pytest.mark.parametrize("word", ["今月の請求", "料金", "請求額", "今月の料金。", "今月の料金！", "今月の料金?",
                                  "　今月の 料金　", "今月の請求額", "料金？"])
def test_this_month_words(chat_user, customer, word):
    card = bill_card(chat_user.say(word))
    assert card["altText"].startswith("2026年11月")


def test_each_tap_issues_a_fresh_link(chat_user, customer, app):
    first = flex_actions(bill_card(chat_user.say("今月の料金"))["contents"]["footer"])[0]["uri"]
    second = flex_actions(bill_card(chat_user.say("今月の料金"))["contents"]["footer"])[0]["uri"]
    assert first != second


def test_no_statement_this_month_says_so_and_shows_the_newest(chat_user, app, clock):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    seed_statement(app, seeded.customer_id, date(2026, 10, 1), [("基本料金", 5280)], due_date=date(2026, 11, 27))
    clock.now = datetime(2026, 11, 1, 0, 5, tzinfo=TOKYO)  # just after midnight in Tokyo
    replies = chat_user.say("今月の料金")
    assert "2026年11月のご請求金額は、まだ確定していません" in replies[0]["text"]
    assert "月に1回" in replies[0]["text"]
    assert bill_card(replies)["altText"] == "2026年10月のご請求金額は5,280円です"


def test_this_month_is_tokyo_time(chat_user, app, clock):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    seed_statement(app, seeded.customer_id, date(2026, 12, 1), [("基本料金", 4000)])
    seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 3000)])
    clock.now = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 2026-12-01 00:30 in Tokyo
    assert bill_card(chat_user.say("今月の料金"))["altText"] == "2026年12月のご請求金額は4,000円です"


def test_no_statements_at_all(chat_user, app):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    text = chat_user.says("今月の料金")
    assert "まだご請求の記録がありません" in text


# -- other months -------------------------------------------------------------------------------
def test_last_month(chat_user, customer):
    assert bill_card(chat_user.say("先月の料金"))["altText"] == "2026年10月のご請求金額は4,310円です"


@pytest.mark.parametrize(("word", "month"), [
    ("2026年9月の料金", "2026年9月"), ("２０２６年９月の料金", "2026年9月"), ("9月の料金", "2026年9月"),
    ("2026/9", "2026年9月"), ("2026-09", "2026年9月"), ("2026/09の料金", "2026年9月"),
    ("12月の料金", "2025年12月"), ("11月の料金", "2026年11月"), ("2025年7月分", "2025年7月"),
    ("2026年9月の請求額", "2026年9月"),
])
def test_named_months(chat_user, customer, word, month):
    assert bill_card(chat_user.say(word))["altText"].startswith(f"{month}のご請求金額は")


@pytest.mark.parametrize("word", ["2024年3月の料金", "2027年1月の料金", "2025/6"])
def test_a_month_without_a_statement_lists_the_months_that_exist(chat_user, customer, word):
    (reply,) = chat_user.say(word)
    assert "のご請求は見つかりませんでした" in reply["text"]
    assert "2026年11月" in reply["text"] and "2025年12月" in reply["text"]
    labels = quick_reply_labels(reply)
    assert labels[0] == "2026年11月" and len(labels) == 12
    assert reply["quickReply"]["items"][0]["action"]["text"] == "2026年11月の料金"


def test_before_2020_07_is_never_shown(chat_user, app):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    seed_statement(app, seeded.customer_id, date(2020, 6, 1), [("基本料金", 3000)])
    seed_statement(app, seeded.customer_id, date(2020, 7, 1), [("基本料金", 3100)])
    (reply,) = chat_user.say("2020年6月の料金")
    assert "2020年7月より前" in reply["text"]
    assert quick_reply_labels(reply) == ["2020年7月"]
    assert bill_card(chat_user.say("2020年7月の料金"))["altText"] == "2020年7月のご請求金額は3,100円です"


@pytest.mark.parametrize("word", ["13月の料金", "2026年0月の料金"])
def test_impossible_months_are_not_read_as_a_bill(chat_user, customer, word):
    (reply,) = chat_user.say(word)
    assert reply["type"] == "text" and "うまく理解できませんでした" in reply["text"]
    assert {"オペレーターと話す", "メニュー"} <= set(quick_reply_labels(reply))


# -- 料金一覧 -----------------------------------------------------------------------------------
def test_bill_list_is_twelve_months_newest_first_and_tappable(chat_user, customer):
    (message,) = chat_user.say("料金一覧")
    assert message["type"] == "flex"
    assert message["altText"] == "ご利用料金の一覧（2026年11月〜2025年12月、12か月分）"
    actions = flex_actions(message["contents"])
    assert [a["text"] for a in actions] == [f"{m.year}年{m.month}月の料金" for m in months_back(date(2026, 11, 1), 12)]
    texts = flex_texts(message["contents"]["body"])
    assert texts[0] == "2026年11月" and texts[1] == "10,512円"
    assert "2025年11月" not in texts
    assert bill_card(chat_user.say(actions[3]["text"]))["altText"] == "2026年8月のご請求金額は4,308円です"


def test_bill_list_stops_at_2020_07(chat_user, app):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    for month in months_back(date(2021, 3, 1), 15):  # 2020-01 .. 2021-03
        seed_statement(app, seeded.customer_id, month, [("基本料金", 3000)])
    (message,) = chat_user.say("料金一覧")
    texts = flex_texts(message["contents"]["body"])
    months = [t for t in texts if t.endswith("月") and "年" in t]
    assert months[0] == "2021年3月" and months[-1] == "2020年7月" and len(months) == 9


def test_bill_list_is_at_most_one_year_even_with_gaps(chat_user, app):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 3000)])
    seed_statement(app, seeded.customer_id, date(2025, 12, 1), [("基本料金", 3000)])
    seed_statement(app, seeded.customer_id, date(2025, 11, 1), [("基本料金", 3000)])
    (message,) = chat_user.say("料金一覧")
    assert message["altText"] == "ご利用料金の一覧（2026年11月〜2025年12月、2か月分）"


def test_bill_list_with_nothing(chat_user, app):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    assert "まだご請求の記録がありません" in chat_user.says("料金一覧")


# -- not linked ---------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["今月の料金", "料金一覧", "先月の料金", "2026年9月の料金"])
def test_not_linked_gets_register_and_the_web_login_link(line_user, line_api, app, word):
    replies = line_user.say(word)
    no_refusals(line_api)
    assert len(replies) == 2
    assert "マイページへの登録" in replies[0]["altText"]
    (button,) = flex_actions(replies[0]["contents"])
    assert button["label"] == "ログインして連携"
    url = urlsplit(button["uri"])
    assert url.path == "/link/start" and parse_qs(url.query)["t"] and "linkToken" not in url.query
    assert line_api.accepted("link_token", line_user.user_id)
    assert "登録" in quick_reply_labels(replies[1])


def test_another_users_link_does_not_show_my_bills(customer, make_chat_user):
    stranger = make_chat_user()
    assert "ご請求金額は" not in stranger.says("今月の料金")


# -- rendering --------------------------------------------------------------------------------
def test_card_without_optional_fields_is_valid_flex():
    card = BillCard(date(2026, 11, 1), 0, (), "http://localhost/mypage/bills/1?t=x")
    message = render_bill_card(card)
    assert line_schema.validate("ReplyMessageRequest", {"replyToken": "r", "messages": [message]}) == []
    assert "引落日" not in flex_texts(message["contents"])
    assert message["altText"] == "2026年11月のご請求金額は0円です"


def test_card_with_odd_item_names_is_valid_flex():
    card = BillCard(date(2026, 11, 1), 100, (BillLine("", 100), BillLine("x" * 100, 0)),
                    "http://localhost/mypage/bills/1?t=x", payment_method="")
    message = render_bill_card(card)
    assert line_schema.validate("ReplyMessageRequest", {"replyToken": "r", "messages": [message]}) == []
    assert "" not in flex_texts(message["contents"])


def test_bill_list_renders_valid_flex():
    months = months_back(date(2026, 11, 1), 12)
    entries = tuple(BillListEntry(m, 123456, f"{m.year}年{m.month}月の料金") for m in months)
    message = render_bill_list(BillList(entries))
    assert line_schema.validate("ReplyMessageRequest", {"replyToken": "r", "messages": [message]}) == []


# -- reviewer F: month arithmetic at the year boundary, in Tokyo time ---------------------------------
@pytest.mark.parametrize(("now", "word", "month"), [
    (datetime(2027, 1, 10, 9, 0, tzinfo=TOKYO), "先月の料金", "2026年12月"),
    (datetime(2026, 12, 31, 15, 30, tzinfo=UTC), "先月の料金", "2026年12月"),  # 2027-01-01 00:30 in Tokyo
    (datetime(2026, 12, 31, 14, 30, tzinfo=UTC), "先月の料金", "2026年11月"),  # still 2026-12-31 in Tokyo
    (datetime(2027, 2, 3, 9, 0, tzinfo=TOKYO), "9月の料金", "2026年9月"),
    (datetime(2027, 1, 10, 9, 0, tzinfo=TOKYO), "1月の料金", "2027年1月"),
    (datetime(2027, 1, 10, 9, 0, tzinfo=TOKYO), "12月の料金", "2026年12月"),
])
def test_months_across_the_new_year(chat_user, app, clock, now, word, month):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    for year, number in ((2026, 9), (2026, 11), (2026, 12), (2027, 1)):
        seed_statement(app, seeded.customer_id, date(year, number, 1), [("基本料金", 1000 * number)])
    clock.now = now
    assert bill_card(chat_user.say(word))["altText"].startswith(f"{month}のご請求金額は")


def test_a_named_month_for_a_customer_without_any_bill_says_none_yet(chat_user, app):
    from bot import messages

    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    assert chat_user.say("2026年9月の料金")[0]["text"] == messages.BILL_NONE_YET
