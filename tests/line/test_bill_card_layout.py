"""The bill card's, the notice's and the 料金一覧 chart's Flex JSON (issue 20): labels cut only between
words, amounts never wrapped, discounts with a true minus, LINE's schema and size limits kept.
How they look in Chromium: test_bill_card_layout_browser.py."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.types import BillCard, BillLine, BillList, BillListEntry, BillNotice
from handlers.emulator import line_schema
from handlers.emulator.line_limits import MAX_BUBBLE_BYTES
from handlers.line.render import (
    CONTENT_PX,
    render_bill_card,
    render_bill_list,
    render_bill_notice,
    text_px,
    whole_word_lines,
)

ITEMS = (("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("ひかり電話 基本料", 550),
         ("機器レンタル料（Wi-Fiルーター）", 330), ("専門チャンネルパック", 1980), ("工事費分割（3/12）", 1000),
         ("ユニバーサルサービス料", 2), ("セット割引", -550))
URL = "http://127.0.0.1/mypage/bills/1?t=x"


def card(items=ITEMS, total: int | None = None, **fields) -> dict:
    return render_bill_card(BillCard(date(2026, 11, 1), sum(a for _n, a in items) if total is None else total,
                                     tuple(BillLine(n, a) for n, a in items), URL, **fields))


def chart(totals: list[int]) -> dict:
    months = [date((2026 * 12 + 10 - back) // 12, (10 - back) % 12 + 1, 1) for back in range(len(totals))]
    return render_bill_list(BillList(tuple(BillListEntry(m, t, f"{m.year}年{m.month}月の料金")
                                           for m, t in zip(months, totals, strict=True))))


def valid(message: dict) -> None:
    body = {"to": "U" + "0" * 32, "messages": [message]}
    assert line_schema.validate("PushMessageRequest", body) == []


def components(node, kind: str | None = None) -> list[dict]:
    """Every Flex component under ``node`` (of one ``type``)."""
    out: list[dict] = []
    if isinstance(node, dict):
        if node.get("type") and (kind is None or node["type"] == kind):
            out.append(node)
        for value in node.values():
            out.extend(components(value, kind))
    elif isinstance(node, list):
        for value in node:
            out.extend(components(value, kind))
    return out


def pairs(message: dict) -> list[tuple[dict, dict]]:
    """(label, value) texts of every two-text box: the facts and the items."""
    return [tuple(box["contents"]) for box in components(message["contents"]["body"], "box")
            if len(box["contents"]) == 2 and all(c["type"] == "text" for c in box["contents"])]


# -- cutting a label into lines -------------------------------------------------------------------
@pytest.mark.parametrize(("text", "room", "lines"), [
    ("ケーブルテレビ 基本料金", 300, ["ケーブルテレビ 基本料金"]),
    ("ケーブルテレビ 基本料金", 120, ["ケーブルテレビ ", "基本料金"]),
    ("機器レンタル料（Wi-Fiルーター）", 140, ["機器レンタル料", "（Wi-Fiルーター）"]),
    ("工事費分割（3/12）ほか", 100, ["工事費分割", "（3/12）ほか"]),
    ("録画・視聴オプション", 60, ["録画・", "視聴オプション"]),
    ("ユニバーサルサービス料", 50, ["ユニバーサルサービス料"]),  # one word: never cut, whatever the room
    ("  セット割引  ", 300, ["セット割引"]),
])
def test_labels_are_cut_only_between_words(text, room, lines):
    assert whole_word_lines(text, room) == lines
    assert "".join(lines) == text.strip()  # the spaces stay: the name reads back whole


def test_full_width_characters_count_a_full_em():
    assert text_px("引落日") == 3 * 14
    assert text_px("2026年12月27日") > 100  # what a 2 : 3 share of the row could not hold


# -- the bill card and the notice ---------------------------------------------------------------
def test_every_label_fits_beside_its_value_at_the_narrowest_bubble():
    message = card(due_date=date(2026, 12, 27), payment_method="口座振替")
    valid(message)
    found = pairs(message)
    assert len(found) == 2 + len(ITEMS)
    for label, value in found:
        assert value["flex"] == 0 and not value.get("wrap")  # an amount or a date takes its own width, whole
        room = CONTENT_PX - text_px(value["text"]) - 4
        assert all(text_px(line.rstrip()) <= room for line in label["text"].split("\n")), label["text"]
    labels = {label["text"].replace("\n", ""): value["text"] for label, value in found}
    assert labels["引落日"] == "2026年12月27日"
    assert labels["セット割引"] == "\u2212550円"
    assert labels["ケーブルテレビ 基本料金"] == "3,300円"


def test_a_name_too_long_to_sit_beside_its_amount_is_a_two_line_item():
    name = "ケーブルテレビ・インターネット・電話セット割引キャンペーン"
    message = card(((name, -1100), ("基本料金", 3300)), payment_method="クレジットカード（VISA 下4桁 1234）")
    valid(message)
    item = next(box for box in components(message["contents"]["body"], "box")
                if box["contents"] and box["contents"][0].get("text", "").startswith("ケーブルテレビ・"))
    assert item["layout"] == "vertical"
    label, amount = item["contents"]
    assert all(text_px(line.rstrip()) <= CONTENT_PX for line in label["text"].split("\n"))
    assert "".join(label["text"].split("\n")) == name
    assert amount["text"] == "\u22121,100円" and amount["align"] == "end"


def test_discounts_and_credits_use_a_true_minus():
    message = card((("基本料金", 1000), ("返金", -3000)))
    texts = [t["text"] for t in components(message["contents"], "text")]
    assert "\u22122,000円" in texts and "\u22123,000円" in texts
    assert not [t for t in texts if "-" in t and "円" in t]
    assert message["altText"] == "2026年11月のご請求金額は\u22122,000円です"
    notice = render_bill_notice(BillNotice(date(2026, 11, 1), -550, "2026年11月の料金", date(2026, 12, 27)))
    valid(notice)
    assert "\u2212550円" in [t["text"] for t in components(notice["contents"], "text")]


def test_the_notice_keeps_its_due_date_whole():
    notice = render_bill_notice(BillNotice(date(2026, 11, 1), 12345, "2026年11月の料金", date(2026, 12, 27)))
    valid(notice)
    ((label, value),) = pairs(notice)
    assert (label["text"], value["text"], value["flex"]) == ("引落日", "2026年12月27日", 0)


@pytest.mark.parametrize("items", [(), (("", 100), ("x" * 100, 0)), tuple(ITEMS) * 2])
def test_odd_cards_stay_valid(items):
    message = card(items, payment_method="")
    valid(message)
    assert "" not in [t["text"] for t in components(message["contents"], "text")]


# -- the 料金一覧 chart ---------------------------------------------------------------------------
def test_the_chart_is_one_bar_a_month_newest_first_each_tappable():
    totals = [8043, 8100, 9992, 12000, 6000, 3000, 0, 7777, 8043, 8043, -550, 10000]
    message = chart(totals)
    valid(message)
    rows = message["contents"]["body"]["contents"][:-1]
    assert len(rows) == 12
    assert [row["action"]["text"] for row in rows][:2] == ["2026年11月の料金", "2026年10月の料金"]
    assert rows[-1]["action"]["text"] == "2025年12月の料金"
    first_label = rows[0]["contents"][0]["contents"]
    assert [first_label[0]["text"], first_label[1]["text"]] == ["2026年11月", "8,043円"]
    widths = [(row["contents"][1]["contents"] or [{"width": "0%"}])[0]["width"] for row in rows]
    assert widths == ["67%", "68%", "83%", "100%", "50%", "25%", "0%", "65%", "67%", "67%", "0%", "83%"]
    assert rows[10]["contents"][0]["contents"][1]["text"] == "\u2212550円"
    assert message["altText"] == "ご利用料金の一覧（2026年11月〜2025年12月、12か月分）"


def test_twelve_months_stay_well_inside_lines_flex_limits():
    message = chart([123_456] * 12)
    valid(message)
    size = len(json.dumps(message["contents"], ensure_ascii=False, separators=(",", ":")).encode())
    assert size < MAX_BUBBLE_BYTES / 2, size  # LINE's limit is 30 KB a bubble
    assert len(components(message["contents"], "box")) <= 50  # 4 a month, plus the blocks


@pytest.mark.parametrize("totals", [[5280], [0, 0, 0], [-550], [1000, 1000, 1000], [1, 1_000_000]])
def test_small_and_odd_charts_stay_valid(totals):
    message = chart(totals)
    valid(message)
    assert len(message["contents"]["body"]["contents"]) == len(totals) + 1
