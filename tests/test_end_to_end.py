"""From the billing system's CSV exports to the chat and the page, to the yen.

The operator imports the files with the real commands; a linked customer asks in the
chat; the card and the detail page show exactly what the files said.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from storage.models import Customer
from tests.bot.test_billing import flex_texts
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    seed_account,
    seed_link,
)

CUSTOMERS = (
    "customer_number,phone,name_kana,name,email\n"
    "0012345678,0748-62-1234,ｱｲｺﾑ ﾀﾛｳ,相混 太郎,taro@example.jp\n"
    "0023456789,０７４８－６３－２３４５,こうか　はなこ,甲賀 花子,\n"
)
STATEMENTS = (
    "customer_number,billing_month,item,amount,due_date,payment_method\n"
    "12345678,2026-11,ケーブルテレビ 基本料金,\"3,300\",2026-11-27,口座振替\n"
    "12345678,2026-11,インターネット 1Gコース,5170,2026-11-27,口座振替\n"
    "12345678,2026-11,ひかり電話 通話料,１２３,2026-11-27,口座振替\n"
    "12345678,2026-11,セット割引,-550,2026-11-27,口座振替\n"
    "12345678,2026-10,ケーブルテレビ 基本料金,3300,2026-10-27,口座振替\n"
    "12345678,2026-10,セット割引,－550,2026-10-27,口座振替\n"
    "23456789,2026-11,ケーブルテレビ 基本料金,3300,2026-11-27,クレジットカード\n"
)
NOVEMBER_TOTAL = 3300 + 5170 + 123 - 550  # 8,043円
OCTOBER_TOTAL = 3300 - 550  # 2,750円


def _import(runner, tmp_path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8-sig")
    (tmp_path / "statements.csv").write_bytes(STATEMENTS.encode("cp932"))
    result = runner.invoke(args=["import-customers", str(tmp_path / "customers.csv")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["import-statements", "--encoding", "cp932", str(tmp_path / "statements.csv")])
    assert result.exit_code == 0, result.output


def _link(app, line_user) -> None:
    with app.extensions["db"].begin() as db:
        customer_id = db.scalar(select(Customer.id).where(Customer.customer_number == "12345678"))
    account_id = seed_account(app, customer_id)
    seed_link(app, account_id, line_user.user_id)


def _card(replies: list[dict]) -> dict:
    return next(m for m in replies if m["type"] == "flex" and "ご請求金額は" in m["altText"])


def test_imported_bill_reaches_the_chat_and_the_page_to_the_yen(app, runner, tmp_path, line_user, client):
    _import(runner, tmp_path)
    _link(app, line_user)

    card = _card(line_user.say("今月の料金"))
    assert NOVEMBER_TOTAL == 8043
    assert card["altText"] == "2026年11月のご請求金額は8,043円です"
    texts = [text.replace("\n", "") for text in flex_texts(card["contents"])]  # names cut into whole-word lines
    assert "2026年11月" in texts and "8,043円" in texts and "2026年11月27日" in texts and "口座振替" in texts
    for name, amount in (("ケーブルテレビ 基本料金", "3,300円"), ("インターネット 1Gコース", "5,170円"),
                         ("ひかり電話 通話料", "123円"), ("セット割引", "\u2212550円")):
        assert texts[texts.index(name) + 1] == amount

    url = urlsplit(card["contents"]["footer"]["contents"][0]["action"]["uri"])
    page = client.get(f"{url.path}?{url.query}", follow_redirects=True)
    assert page.status_code == 200
    html = re.sub(r"\s+", " ", page.get_data(as_text=True))
    for expected in ("2026年11月", "8,043円", "3,300円", "5,170円", "123円", "\u2212550円", "2026年11月27日",
                     "口座振替"):
        assert expected in html
    assert "見本" not in html  # 「上記の料金は見本のため…」 has no place on a real bill

    last_month = _card(line_user.say("先月の料金"))
    assert last_month["altText"] == f"2026年10月のご請求金額は{OCTOBER_TOTAL:,}円です"


def test_a_re_import_that_changes_a_month_changes_the_answer(app, runner, tmp_path, line_user):
    _import(runner, tmp_path)
    _link(app, line_user)
    corrected = tmp_path / "correction.csv"
    corrected.write_text("customer_number,billing_month,item,amount\n"
                         "12345678,2026-11,ケーブルテレビ 基本料金,3300\n", encoding="utf-8")
    assert runner.invoke(args=["import-statements", str(corrected)]).exit_code == 0
    assert _card(line_user.say("今月の料金"))["altText"] == "2026年11月のご請求金額は3,300円です"
