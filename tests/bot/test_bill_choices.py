"""The quick replies under a bill offer the other months, never the month just shown (issue 20)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    seed_customer_with_account,
    seed_link,
    seed_statement,
)
from tests.line_driver import quick_reply_labels


@pytest.fixture
def customer(app, chat_user):
    """A linked customer with a statement for every month from 2025-07 to 2026-11 (today: 2026-11-25)."""
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    for index in range(17):
        month = date(2025 + (6 + index) // 12, (6 + index) % 12 + 1, 1)
        seed_statement(app, seeded.customer_id, month, [("基本料金", 3000 + index)])
    return seeded


def bill_card(messages: list[dict]) -> dict:
    (card,) = [m for m in messages if m["type"] == "flex" and "ご請求金額は" in m["altText"]]
    return card


def _choices(card: dict) -> list[tuple[str, str]]:
    return [(item["action"]["label"], item["action"]["text"]) for item in card["quickReply"]["items"]]


def test_after_last_months_bill_last_month_is_not_offered_again(chat_user, customer):
    card = bill_card(chat_user.say("先月の料金"))
    assert card["altText"].startswith("2026年10月")
    labels = quick_reply_labels(card)
    assert "先月の料金" not in labels
    assert _choices(card) == [("今月の料金", "今月の料金"), ("2026年9月の料金", "2026年9月の料金"),
                              ("料金一覧", "料金一覧"), ("ヘルプ", "ヘルプ")]


def test_after_this_months_bill_last_month_is_offered(chat_user, customer):
    card = bill_card(chat_user.say("今月の料金"))
    assert card["altText"].startswith("2026年11月")
    assert quick_reply_labels(card) == ["先月の料金", "料金一覧", "ヘルプ"]


@pytest.mark.parametrize(("word", "expected"), [
    ("2026年9月の料金", ["今月の料金", "先月の料金", "2026年8月の料金", "料金一覧", "ヘルプ"]),
    ("2026年10月の料金", ["今月の料金", "2026年9月の料金", "料金一覧", "ヘルプ"]),  # that is 先月
    ("2026年11月の料金", ["先月の料金", "料金一覧", "ヘルプ"]),  # that is 今月
])
def test_after_a_named_month_the_months_around_it_are_offered(chat_user, customer, word, expected):
    card = bill_card(chat_user.say(word))
    assert card["altText"].startswith(word.removesuffix("の料金"))
    assert quick_reply_labels(card) == expected
    assert word not in [text for _label, text in _choices(card)]


def test_when_this_month_is_not_out_yet_the_newest_bill_offers_no_this_month_again(app, chat_user, clock):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    seed_statement(app, seeded.customer_id, date(2026, 10, 1), [("基本料金", 3000)])
    replies = chat_user.say("今月の料金")
    card = bill_card(replies)
    assert card["altText"].startswith("2026年10月")
    labels = quick_reply_labels(card)
    assert "今月の料金" not in labels and "先月の料金" not in labels  # 今月 was just asked; 先月 is on the card
    assert labels == ["2026年9月の料金", "料金一覧", "ヘルプ"]
