"""The bill card, the monthly notice and the 料金一覧 chart as the emulator draws them in Chromium, at
LINE's narrowest bubble: no label or amount is broken in the middle of a word (issue 20).

Each Flex text the renderer laid out as whole lines must render as exactly those lines (its line
count in the page equals its ``\\n`` count + 1), and none is cut off. Sentences (the notes under a
card) may wrap anywhere, as Japanese does. ``SAVE_SCREENSHOTS=1`` writes docs/screenshots/bill-card.png
and bill-chart-line.png; every run writes them under pytest's tmp_path.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from bot import messages
from bot.types import BillCard, BillLine, BillList, BillListEntry, BillNotice
from handlers.emulator import line_schema
from handlers.line.render import NARROWEST_BUBBLE_PX, render_bill_card, render_bill_list, render_bill_notice
from tests.emulator.test_emulator_browser import (  # noqa: F401  (fixtures)
    SCREENSHOTS,
    browser,
    live_emulator,
    open_emulator,
    page,
    push,
)

SENTENCES = {messages.BILL_LINK_NOTE, messages.BILL_NOTICE_FOOTNOTE, messages.BILL_CHART_NOTE,
             messages.BILL_NOTICE_LEAD.format(month="2026年11月")}
# What the demo data and the issue show, and the longest names a statement may carry in practice.
ITEMS = (("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("ひかり電話 基本料", 550),
         ("機器レンタル料（Wi-Fiルーター）", 330), ("専門チャンネルパック", 1980), ("工事費分割（3/12）", 1000),
         ("ユニバーサルサービス料", 2), ("セット割引", -550))
CARD = BillCard(date(2026, 11, 1), sum(a for _n, a in ITEMS), tuple(BillLine(n, a) for n, a in ITEMS),
                "http://127.0.0.1/mypage/bills/1?t=x", due_date=date(2026, 12, 27), payment_method="口座振替",
                note=messages.BILL_LINK_NOTE)
# A name too long to sit beside its amount (a two-line item) and a long payment method.
LONG_CARD = BillCard(date(2026, 11, 1), 2200,
                     (BillLine("ケーブルテレビ・インターネット・電話セット割引キャンペーン", -1100),
                      BillLine("ケーブルテレビ 基本料金", 3300)),
                     "http://127.0.0.1/mypage/bills/2?t=x", due_date=date(2026, 12, 27),
                     payment_method="クレジットカード（VISA 下4桁 1234）")
NOTICE = BillNotice(date(2026, 11, 1), 12_345, "2026年11月の料金", due_date=date(2026, 12, 27))

# Each Flex text's rendered lines (tops of its line boxes, a line being those within half a font size).
_LINES_JS = """bubble => Array.from(bubble.querySelectorAll('.fx-text')).map(node => {
  const range = document.createRange();
  range.selectNodeContents(node);
  const half = parseFloat(getComputedStyle(node).fontSize) / 2;
  const tops = [];
  for (const rect of range.getClientRects()) {
    if (rect.width < 0.5) continue;
    if (!tops.some(top => Math.abs(top - rect.top) < half)) tops.push(rect.top);
  }
  return {text: node.textContent, lines: tops.length, clipped: node.scrollWidth > node.clientWidth + 1};
})"""


def flex_texts(node) -> list[str]:
    """Every text of a Flex tree in the order the emulator draws them (header, body, footer)."""
    if isinstance(node, list):
        return [text for child in node for text in flex_texts(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "text":
        return [node["text"]]
    if node.get("type") == "bubble":
        return [t for part in ("header", "hero", "body", "footer") for t in flex_texts(node.get(part))]
    return flex_texts(node.get("contents"))


def show(page, base: str, message: dict, width: int):
    """Push ``message`` to the emulator's user and draw its bubble ``width`` px wide."""
    user_id = page.locator("#user-id").inner_text()
    assert line_schema.validate("PushMessageRequest", {"to": user_id, "messages": [message]}) == []
    before = page.locator(".fx-bubble").count()
    assert push(base, {"to": user_id, "messages": [message]}) == 200
    page.wait_for_function("n => document.querySelectorAll('.fx-bubble').length > n", arg=before)
    bubble = page.locator(".fx-bubble").nth(before)  # this one, whatever the bot says next
    bubble.evaluate("(node, width) => { node.style.width = width + 'px'; }", width)
    bubble.scroll_into_view_if_needed()
    return bubble


def assert_whole_lines(bubble, message: dict) -> None:
    """Every label and amount renders as the lines the renderer chose: none broken mid-word, none cut."""
    expected = flex_texts(message["contents"])
    drawn = bubble.evaluate(_LINES_JS)
    assert [d["text"] for d in drawn] == expected
    broken = [(d["text"], d["lines"]) for d in drawn
              if d["text"] not in SENTENCES and d["lines"] != d["text"].count("\n") + 1]
    assert broken == [], f"broken mid-word: {broken}"
    assert [d["text"] for d in drawn if d["clipped"]] == []


# A copy of the bubble on the chat's blue, above everything (the chat scrolls, the rich menu covers it).
_STAGE_JS = """bubble => {
  const stage = document.createElement('div');
  stage.id = 'bill-stage';
  Object.assign(stage.style, {position: 'fixed', left: '0', top: '0', zIndex: '9999', padding: '16px',
                              background: '#8cabd9'});
  stage.append(bubble.cloneNode(true));
  document.body.append(stage);
}"""


def save(page, bubble, tmp_path, name: str, for_readme: bool = True) -> None:
    """Screenshot the bubble whole, under tmp_path and (SAVE_SCREENSHOTS=1) for the README."""
    bubble.evaluate(_STAGE_JS)
    stage = page.locator("#bill-stage")
    stage.screenshot(path=str(tmp_path / name))
    if for_readme and os.environ.get("SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        stage.screenshot(path=str(SCREENSHOTS / name))
    stage.evaluate("node => node.remove()")


@pytest.mark.parametrize("width", [NARROWEST_BUBBLE_PX, 300])
def test_bill_card_breaks_no_word(live_emulator, page, tmp_path, width):
    _app, base = live_emulator
    open_emulator(page, base)
    message = render_bill_card(CARD)
    bubble = show(page, base, message, width)
    assert_whole_lines(bubble, message)
    text = bubble.inner_text()
    assert "2026年12月27日" in text and "−550円" in text and "-550円" not in text
    if width == NARROWEST_BUBBLE_PX:
        save(page, bubble, tmp_path, "bill-card.png")
    assert page.problems == []


def test_a_long_name_becomes_a_two_line_item_and_breaks_no_word(live_emulator, page, tmp_path):
    _app, base = live_emulator
    open_emulator(page, base)
    message = render_bill_card(LONG_CARD)
    bubble = show(page, base, message, NARROWEST_BUBBLE_PX)
    assert_whole_lines(bubble, message)
    assert "−1,100円" in bubble.inner_text()
    save(page, bubble, tmp_path, "bill-card-long.png", for_readme=False)
    assert page.problems == []


def test_bill_notice_breaks_no_word(live_emulator, page, tmp_path):
    _app, base = live_emulator
    open_emulator(page, base)
    message = render_bill_notice(NOTICE)
    bubble = show(page, base, message, NARROWEST_BUBBLE_PX)
    assert_whole_lines(bubble, message)
    assert "2026年12月27日" in bubble.inner_text()
    save(page, bubble, tmp_path, "bill-notice.png", for_readme=False)
    assert page.problems == []


def test_bill_list_chart_bars_are_sized_by_amount(live_emulator, page, tmp_path):
    _app, base = live_emulator
    open_emulator(page, base)
    totals = [8043, 8100, 9992, 12000, 6000, 3000, 0, 7777, 8043, 8043, -550, 10000]
    months = [date((2026 * 12 + 10 - back) // 12, (10 - back) % 12 + 1, 1) for back in range(12)]  # 2026-11..2025-12
    entries = tuple(BillListEntry(m, t, f"{m.year}年{m.month}月の料金") for m, t in zip(months, totals, strict=True))
    message = render_bill_list(BillList(entries))
    bubble = show(page, base, message, NARROWEST_BUBBLE_PX)
    assert_whole_lines(bubble, message)
    track_width = bubble.evaluate("b => b.querySelector('.fx-root-body .fx-box .fx-box:nth-child(2)')"
                                  ".getBoundingClientRect().width")
    widths = bubble.evaluate("""b => Array.from(b.querySelectorAll('.fx-root-body > .fx-box')).map(row => {
        const track = row.children[1];
        const bar = track && track.firstElementChild;
        return bar ? bar.getBoundingClientRect().width : 0; })""")
    assert len(widths) == 12
    for total, width in zip(totals, widths, strict=True):  # newest first, each as long as its share
        assert abs(width - track_width * max(total, 0) / max(totals)) < 1.5, (total, width, track_width)
    rows = bubble.locator(".fx-root-body > .fx-box")
    assert rows.first.inner_text().split() == ["2026年11月", "8,043円"]
    assert "−550円" in rows.nth(10).inner_text()
    save(page, bubble, tmp_path, "bill-chart-line.png")
    rows.nth(3).dispatch_event("click")  # a bar asks for its month (dispatched: the rich menu may cover it)
    page.locator(".row.user .user-bubble", has_text="2026年8月の料金").wait_for()
    assert rows.nth(4).get_attribute("role") == "button"  # and works from the keyboard, as a button
    rows.nth(4).focus()
    page.keyboard.press("Enter")
    page.locator(".row.user .user-bubble", has_text="2026年7月の料金").wait_for()
    assert page.problems == []
