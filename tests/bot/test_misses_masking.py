"""``faq misses`` keeps what nothing answered masked like the staff transcript: numbers, mail, and the
linked customer's own names, but not the months and amounts they asked about (issue 20)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Customer, FaqMiss
from tests.helpers_billing import seed_customer_with_account, seed_link


def _misses(app) -> list[str]:
    with app.extensions["db"].begin() as db:
        return [miss.text for miss in db.scalars(select(FaqMiss).order_by(FaqMiss.id))]


def test_a_miss_keeps_the_month_and_masks_the_linked_customers_name(app, chat_user):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    with app.extensions["db"].begin() as db:
        customer = db.get(Customer, seeded.customer_id)
        name_kana = customer.name_kana
        customer.name = "相混 太郎"
    chat_user.say(f"ほげほげ {name_kana} 2025年12月 5,280円 0748-62-1234 taro@example.jp ふがふが")
    chat_user.say("ぴよぴよ 相混太郎 ぴよぴよ")
    first, second = _misses(app)
    assert "2025年12月 5,280円" in first and "****-**-****" in first and "***@***" in first
    assert name_kana not in first and name_kana.replace("\u3000", " ") not in first and "ほげほげ ***" in first
    assert second == "ぴよぴよ *** ぴよぴよ"


def test_an_unlinked_persons_miss_is_masked_without_names(app, chat_user):
    chat_user.say("ほげほげ 12345678 の 2026/8 ふがふが")
    assert _misses(app) == ["ほげほげ ******** の 2026/8 ふがふが"]
