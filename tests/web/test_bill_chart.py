"""The web bill list's bar chart: server-rendered SVG from ``bot.charts.bill_bars``, with a text
alternative and no JavaScript (issue 20). The same bars as the chat's 料金一覧."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

from bot.charts import bill_bars
from bot.types import BillList, BillListEntry
from handlers.line.render import render_bill_list
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    login,
    seed_customer_with_account,
    seed_statement,
)

TOTALS = {date(2026, 11, 1): 8043, date(2026, 10, 1): 12000, date(2026, 9, 1): 0, date(2026, 8, 1): -550,
          date(2026, 7, 1): 6000}


def chart_page(client, app, totals: dict[date, int] = TOTALS) -> str:
    seeded = seed_customer_with_account(app)
    for month, total in totals.items():
        seed_statement(app, seeded.customer_id, month, [("基本料金", total)])
    login(client, seeded.login_id)
    response = client.get("/mypage/bills")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def svg_of(html: str) -> str:
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no chart on the page"
    return found.group(0)


def test_the_chart_is_svg_with_a_text_alternative(client, app):
    html = chart_page(client, app)
    svg = svg_of(html)
    assert 'role="img"' in svg
    labelled_by = re.search(r'aria-labelledby="([^"]+)"', svg).group(1).split()
    for element_id in labelled_by:
        assert re.search(f'<(title|desc) id="{element_id}">', svg)
    title = unescape(re.search(r"<title[^>]*>(.*?)</title>", svg).group(1))
    desc = unescape(re.search(r"<desc[^>]*>(.*?)</desc>", svg).group(1))
    assert title == "ご利用料金の推移（2026年11月〜2026年7月、新しい月から）"
    assert desc == "2026年11月 8,043円、2026年10月 12,000円、2026年9月 0円、2026年8月 −550円、2026年7月 6,000円。"
    assert "<script" not in html  # drawn by the server: nothing to run


def test_bars_newest_first_sized_by_amount_as_in_the_chat(client, app):
    svg = svg_of(chart_page(client, app))
    months = re.findall(r'<text x="0"[^>]*>([^<]+)</text>', svg)
    amounts = re.findall(r'<text x="100%"[^>]*>([^<]+)</text>', svg)
    assert months == ["2026年11月", "2026年10月", "2026年9月", "2026年8月", "2026年7月"]
    assert amounts == ["8,043円", "12,000円", "0円", "−550円", "6,000円"]
    bars = re.findall(r'width="(\d+)%"[^>]*fill="#00703c"', svg)
    assert bars == ["67", "100", "50"]  # 0円 and −550円: no bar, only the amount

    # one function, two drawings: the chat's Flex bars have the same lengths
    entries = tuple(BillListEntry(m, t, f"{m.year}年{m.month}月の料金") for m, t in TOTALS.items())
    assert re.findall(r"'width': '(\d+)%'", str(render_bill_list(BillList(entries)))) == bars
    assert [b.percent for b in bill_bars(entries)] == [67, 100, 0, 0, 50]


def test_one_month_and_equal_months(client, app):
    svg = svg_of(chart_page(client, app, {date(2026, 11, 1): 5280, date(2026, 10, 1): 5280}))
    assert re.findall(r'width="(\d+)%"[^>]*fill="#00703c"', svg) == ["100", "100"]
    assert 'height="88"' in svg  # two rows of 44 px


def test_no_statements_no_chart(client, app):
    seeded = seed_customer_with_account(app)
    login(client, seeded.login_id)
    html = client.get("/mypage/bills").get_data(as_text=True)
    assert "<svg" not in html and "表示できるご利用料金はまだありません" in html


def test_the_table_shows_a_discount_month_with_a_true_minus(client, app):
    html = chart_page(client, app)
    assert '<td class="amount">−550円</td>' in html and "-550円" not in html
